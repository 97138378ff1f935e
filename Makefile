# tinykv — build, test, install. `make` builds build/tinykvd and build/tinykv.
CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
bindir   ?= $(PREFIX)/bin
sbindir  ?= $(PREFIX)/sbin
mandir   ?= $(PREFIX)/share/man
B        := build

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
            -Wvla -Wimplicit-fallthrough -Wnull-dereference
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread $(WARN) $(EXTRA_CFLAGS)
PKGS     := libcurl lmdb openssl expat
CPPFLAGS += $(shell pkg-config --cflags $(PKGS) fuse3 libmicrohttpd 2>/dev/null)
LIBS_CORE = $(shell pkg-config --libs $(PKGS)) -pthread
LIBS_FUSE = $(shell pkg-config --libs fuse3)
LIBS_MHD  = $(shell pkg-config --libs libmicrohttpd)

CORE_SRC := $(wildcard core/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(B)/%.o)
MOUNTD_OBJ := $(patsubst %.c,$(B)/%.o,$(wildcard mountd/*.c))
FUSE_OBJ := $(patsubst %.c,$(B)/%.o,$(wildcard fuse/*.c))
UNIT_SRC := $(wildcard test/unit/*.c)

.PHONY: all check unit e2e asan install uninstall clean run stop bench format lint deps

all: $(B)/tinykvd $(B)/tinykv

$(B)/%.o: %.c $(wildcard core/*.h mountd/*.h fuse/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Icore -c $< -o $@

$(B)/libtinykv.a: $(CORE_OBJ)
	$(AR) rcs $@ $^

$(B)/tinykvd: $(MOUNTD_OBJ) $(B)/libtinykv.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_MHD) $(LIBS_CORE) $(LDFLAGS)

$(B)/tinykv: $(FUSE_OBJ) $(B)/libtinykv.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_FUSE) $(LIBS_CORE) $(LDFLAGS)

# Unit tests of the core, built with AddressSanitizer and UBSan.
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# The parsers of the programs that are pure functions are tested (and fuzzed) too, and the
# mount's table of open files with the states of its nodes (node.c, and what it frees).
UNIT_PROG := mountd/listargs.c fuse/options.c fuse/node.c fuse/stream.c fuse/prefetch.c
$(B)/unit: $(UNIT_SRC) $(CORE_SRC) $(UNIT_PROG) $(wildcard core/*.h mountd/*.h fuse/*.h test/unit/*.h)
	@mkdir -p $(B)
	$(CC) $(CPPFLAGS) -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread $(WARN) \
		$(EXTRA_CFLAGS) -O1 -g $(SAN) -Icore -Imountd -Ifuse -o $@ $(UNIT_SRC) $(CORE_SRC) \
		$(UNIT_PROG) $(LIBS_FUSE) $(LIBS_CORE)

# The driver of test/e2e/write_crash.bats: one write through the core, built with the crash
# points (core/crash.h) that no other build has, so TINYKV_CRASH_AT can stop it mid-write.
$(B)/crashdrive: test/e2e/crashdrive.c $(CORE_SRC) $(wildcard core/*.h)
	@mkdir -p $(B)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DKV_CRASH_POINTS -Icore -o $@ test/e2e/crashdrive.c \
		$(CORE_SRC) $(LIBS_CORE) $(LDFLAGS)

# The programs with AddressSanitizer and UBSan, for the end-to-end tests
# (test/run-all runs a selection of them against these: TINYKV_BIN=build/asan).
A := $(B)/asan
$(A)/%.o: %.c $(wildcard core/*.h mountd/*.h fuse/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -O1 $(SAN) -Icore -c $< -o $@

$(A)/tinykvd: $(MOUNTD_OBJ:$(B)/%=$(A)/%) $(CORE_OBJ:$(B)/%=$(A)/%)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LIBS_MHD) $(LIBS_CORE) $(LDFLAGS)

$(A)/tinykv: $(FUSE_OBJ:$(B)/%=$(A)/%) $(CORE_OBJ:$(B)/%=$(A)/%)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LIBS_FUSE) $(LIBS_CORE) $(LDFLAGS)

asan: $(A)/tinykvd $(A)/tinykv

unit: $(B)/unit
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(B)/unit

e2e: all
	bats --print-output-on-failure test/e2e

# check and run install what is missing first, then build in a new make: this one read
# pkg-config's flags before the packages were there (a fresh machine has none). check
# also installs the lint tools: test/e2e/cluster.bats runs make lint.
deps:
	scripts/install-deps

check:
	scripts/install-deps --lint
	$(MAKE) all asan $(B)/unit $(B)/crashdrive
	test/run-all

install: all
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(sbindir) $(DESTDIR)$(mandir)/man5 $(DESTDIR)$(mandir)/man8
	install -m 755 $(B)/tinykv $(DESTDIR)$(bindir)/tinykv
	install -m 755 $(B)/tinykvd $(DESTDIR)$(sbindir)/tinykvd
	install -m 644 man/tinykv.8 man/tinykvd.8 $(DESTDIR)$(mandir)/man8/
	install -m 644 man/tinykv.conf.5 $(DESTDIR)$(mandir)/man5/

uninstall:
	rm -f $(DESTDIR)$(bindir)/tinykv $(DESTDIR)$(sbindir)/tinykvd \
		$(DESTDIR)$(mandir)/man8/tinykv.8 $(DESTDIR)$(mandir)/man8/tinykvd.8 \
		$(DESTDIR)$(mandir)/man5/tinykv.conf.5

run: deps
	$(MAKE) all
	scripts/tinykv-cluster up

stop:
	scripts/tinykv-cluster down

bench: all
	bench/run

clean:
	rm -rf $(B)

# libFuzzer targets, one per parser of untrusted bytes (test/fuzz/NAME.c, seeds in
# test/fuzz/corpus/NAME/), built with clang and ASan + UBSan (LeakSanitizer on).
# `make fuzz` runs each for FUZZ_SECONDS (60); `make fuzz-ci` for 20 (what .ci/run does).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FZ           := $(B)/fuzz
FUZZ_NAMES   := $(basename $(notdir $(wildcard test/fuzz/*.c)))
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_FLAGS    = $(CPPFLAGS) -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread $(WARN) \
		$(EXTRA_CFLAGS) -O1 -g $(FUZZ_SAN) -Icore -Imountd -Ifuse
FUZZ_OBJ     := $(CORE_SRC:%.c=$(FZ)/%.o) $(FZ)/mountd/listargs.o $(FZ)/mountd/json.o \
		$(FZ)/fuse/options.o

$(FZ)/%.o: %.c $(wildcard core/*.h mountd/*.h fuse/*.h test/fuzz/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FZ)/libfuzzed.a: $(FUZZ_OBJ)
	$(AR) rcs $@ $^

$(FZ)/%: $(FZ)/test/fuzz/%.o $(FZ)/libfuzzed.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS_FUSE) $(LIBS_CORE) $(LDFLAGS)

.PHONY: fuzz-build fuzz fuzz-ci
.PRECIOUS: $(FZ)/test/fuzz/%.o
fuzz-build: $(FUZZ_NAMES:%=$(FZ)/%)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) test/fuzz/run $(FUZZ_NAMES)

fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=20

# Style and static checks (STYLE.md 15). format rewrites the C files with .clang-format;
# lint changes nothing and fails on any finding of clang-format, shellcheck or cppcheck
# (cppcheck: bugs, not taste; .cppcheck-suppressions lists its false positives), or on
# C files of one folder that call each other in a circle (scripts/check-cycles).
FORMAT_SRC := $(wildcard core/*.[ch] fuse/*.[ch] mountd/*.[ch] test/unit/*.[ch] test/e2e/*.c \
	bench/*.c)
SHELL_SRC := $(wildcard scripts/*) test/run-all .ci/run $(wildcard bench/*.sh) bench/run \
	test/e2e/helpers.bash
CPPCHECK := cppcheck -q --std=c11 -D_GNU_SOURCE -Icore --enable=warning,performance,portability \
	--inline-suppr --suppressions-list=.cppcheck-suppressions --error-exitcode=1

format:
	scripts/install-deps --lint
	clang-format -i $(FORMAT_SRC)

lint:
	scripts/install-deps --lint
	@rc=0; \
	echo "clang-format --dry-run -Werror"; clang-format --dry-run -Werror $(FORMAT_SRC) || rc=1; \
	echo "shellcheck"; shellcheck -x -s bash $(SHELL_SRC) || rc=1; \
	echo "cppcheck"; $(CPPCHECK) core fuse mountd || rc=1; \
	echo "check-cycles"; scripts/check-cycles core fuse mountd || rc=1; \
	[ $$rc -eq 0 ] && echo "lint: clean" || echo "lint: findings above"; exit $$rc

# pjdfstest, the outside POSIX suite, in a fresh mount, compared with test/pjdfstest.known
# (as root, about 5 minutes; test/pjdfstest/run --help for its options).
.PHONY: pjdfstest
pjdfstest: all
	test/pjdfstest/run
