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

.PHONY: all check unit e2e asan install uninstall clean run stop bench format lint

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
$(B)/unit: $(UNIT_SRC) $(CORE_SRC) $(wildcard core/*.h test/unit/*.h)
	@mkdir -p $(B)
	$(CC) $(CPPFLAGS) -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread $(WARN) \
		$(EXTRA_CFLAGS) -O1 -g $(SAN) -Icore -o $@ $(UNIT_SRC) $(CORE_SRC) $(LIBS_CORE)

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

check: all asan $(B)/unit
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

run:
	scripts/install-deps
	$(MAKE) all
	scripts/tinykv-cluster up

stop:
	scripts/tinykv-cluster down

bench: all
	bench/run

clean:
	rm -rf $(B)

# pjdfstest, the outside POSIX suite, in a fresh mount, compared with test/pjdfstest.known
# (as root, about 5 minutes; test/pjdfstest/run --help for its options).
.PHONY: pjdfstest
pjdfstest: all
	test/pjdfstest/run
