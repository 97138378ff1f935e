#!/usr/bin/env bats
# GET /PREFIX?list[&start=K][&limit=N] (DESIGN §4): shape, order, prefix, start, limit,
# next paging, JSON escaping and bad parameters.

load helpers

# Keys as sent (percent-encoded where needed), in the byte order of their decoded form.
# ("a-", not "a": a key "a" would be a file where "a/b" makes a directory, which a PUT
# refuses.)
RAW_KEYS=(%01ctl %09tab a- a%2Fb a%2Fc ab b back%5Cslash caf%C3%A9 'q%22uote' zz %FF)

setup_file() {
	start_cluster
	local k
	for k in "${RAW_KEYS[@]}"; do
		[ "$(kv_status -X PUT -d "v" "$k")" = 201 ] || { echo "PUT $k: $(kv_body)" >&2; return 1; }
	done
}

teardown_file() { kv_cleanup; }

# The decoded keys of a listing (one per line; jq turns \u00XX into the character).
list_keys() { jq -r '.keys[]'; }

@test "an empty prefix lists every key in byte order, with the exact JSON shape" {
	run kv_status '?list'
	assert_output 200
	run kv_body
	assert_output '{"next": "", "keys": ["\u0001ctl", "\u0009tab", "a-", "a/b", "a/c", "ab", "b", "back\\slash", "café", "q\"uote", "zz", "\udcff"]}'
	kv -D "$KV_DIR/headers" -o /dev/null '?list'
	grep -qi '^Content-Type: application/json' "$KV_DIR/headers"
}

@test "the listing is valid JSON that decodes to the stored keys" {
	run sh -c "curl -s 'http://127.0.0.1:$KV_PORT/?list' | jq -c '[.next, (.keys | length)]'"
	assert_success
	assert_output '["",12]'
	run sh -c "curl -s 'http://127.0.0.1:$KV_PORT/?list' | jq -r '.keys[]' | sed -n '8p;10p'"
	assert_output $'back\\slash\nq"uote'
}

@test "a prefix lists only the keys that start with it" {
	run kv 'a?list'
	assert_output '{"next": "", "keys": ["a-", "a/b", "a/c", "ab"]}'
	run kv 'a%2F?list'
	assert_output '{"next": "", "keys": ["a/b", "a/c"]}'
	run kv 'caf%C3?list'
	assert_output '{"next": "", "keys": ["café"]}'
	run kv 'nothing?list'
	assert_output '{"next": "", "keys": []}'
}

@test "limit cuts the listing and next is the first key not returned" {
	run kv '?list&limit=3'
	assert_output '{"next": "a/b", "keys": ["\u0001ctl", "\u0009tab", "a-"]}'
	run kv '?list&limit=2'
	assert_output '{"next": "a-", "keys": ["\u0001ctl", "\u0009tab"]}'
	run kv 'a?list&limit=2'
	assert_output '{"next": "a/c", "keys": ["a-", "a/b"]}'
	run kv 'a?list&limit=4'
	assert_output '{"next": "", "keys": ["a-", "a/b", "a/c", "ab"]}'
}

@test "start is inclusive; next passed back as start continues the listing" {
	run kv 'a?list&start=a%2Fc&limit=2'
	assert_output '{"next": "", "keys": ["a/c", "ab"]}'
	run kv '?list&start=b&limit=2'
	assert_output '{"next": "café", "keys": ["b", "back\\slash"]}'
	run kv '?list&start=caf%C3%A9&limit=2'
	assert_output '{"next": "zz", "keys": ["café", "q\"uote"]}'
	# A start that matches no key begins at the next one; one before the prefix is the
	# prefix; one past the last key lists nothing.
	run kv '?list&start=aa&limit=1'
	assert_output '{"next": "b", "keys": ["ab"]}'
	run kv 'b?list&start=a'
	assert_output '{"next": "", "keys": ["b", "back\\slash"]}'
	run kv 'a?list&start=b'
	assert_output '{"next": "", "keys": []}'
	# ... also when it is shorter than the prefix: "b" sorts after every "ab" key
	run kv 'ab?list&start=b'
	assert_output '{"next": "", "keys": []}'
	run kv 'ab?list&start=a'
	assert_output '{"next": "", "keys": ["ab"]}'
}

@test "paging with next visits every key exactly once, for any limit" {
	local limit start page all want
	want=$(kv '?list' | list_keys)
	for limit in 1 2 3 5 11 12 13; do
		all="" start=""
		for page in $(seq 20); do
			run kv "?list&limit=$limit&start=$(printf '%s' "$start" | jq -sRr @uri)"
			assert_success
			[ "$(echo "$output" | jq '.keys | length')" -le "$limit" ]
			all+=$(echo "$output" | list_keys)$'\n'
			start=$(echo "$output" | jq -r .next)
			[ -n "$start" ] || break
		done
		[ -z "$start" ] || { echo "limit $limit: listing never ended"; return 1; }
		# jq turns \udcff (the byte 0xff) into U+FFFD, which is not the stored byte:
		# paging is checked on the keys before it.
		[ "$(printf '%s' "$all" | sed '$d' | head -n 11)" = "$(echo "$want" | head -n 11)" ] ||
			{ echo "limit $limit:"; echo "$all"; return 1; }
	done
}

@test "keys that are not UTF-8 stay distinct, round-trip, and page to the end" {
	for k in %FE %FF %C3%BF; do
		run kv_status -X PUT --data-binary v "bin/$k"
		assert_output 201
	done
	run python3 - "$KV_PORT" <<'PY'
import json, sys, urllib.parse, urllib.request
base = "http://127.0.0.1:%s/bin/?list" % sys.argv[1]
def page(start, limit):
    url = base + "&limit=%d" % limit
    if start is not None:
        url += "&start=" + urllib.parse.quote(start)
    return json.load(urllib.request.urlopen(url))
got = [k.encode("utf-8", "surrogateescape") for k in page(None, 100)["keys"]]
assert got == [b"bin/\xc3\xbf", b"bin/\xfe", b"bin/\xff"], got
seen, start = [], None
for _ in range(10):
    p = page(start, 1)
    seen += [k.encode("utf-8", "surrogateescape") for k in p["keys"]]
    if p["next"] == "":
        break
    start = p["next"].encode("utf-8", "surrogateescape")
assert seen == got, seen
print("ok")
PY
	assert_success
	assert_output "ok"
}

@test "bad limit → 400 with a message" {
	local bad
	for bad in 0 -1 abc 1x 10001 99999999999999999999999 '' '%zz' '7%00junk' '+5' '%205' \
		-18446744073709551615; do
		run kv_status "?list&limit=$bad"
		[ "$output" = 400 ] || { echo "limit=$bad: $output $(kv_body)"; return 1; }
		run kv_body
		assert_output --partial "limit"
	done
	run kv_status '?list&limit=10000'
	assert_output 200
	run kv_status '?list&limit=1'
	assert_output 200
}

@test "malformed start or prefix → 400" {
	run kv_status '?list&start=%zz'
	assert_output 400
	run kv_body
	assert_output --partial "start"
	run kv_status 'a%G1?list'
	assert_output 400
}

@test "a listing only shows live keys: deleted ones disappear" {
	run kv_status -X DELETE zz
	assert_output 200
	run kv 'z?list'
	assert_output '{"next": "", "keys": []}'
}

@test "tinykvd stops cleanly; the logs show no crash or sanitizer report" {
	assert_stops_cleanly
	assert_logs_clean
}
