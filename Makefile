# pnc - netcat for peer-to-peer. POSIX make; GNU make is fine too.

PREFIX	?= /usr/local
BINDIR	 = $(PREFIX)/bin
MANDIR	 = $(PREFIX)/share/man/man1
UNITDIR	 = $(PREFIX)/lib/systemd/system
CC	?= cc
# No unwind tables (C has no exceptions; -g keeps what gdb needs) and no
# inlining of functions not asked for: 8 KB of a 100 KB budget.
SMALL	 = -fno-asynchronous-unwind-tables -fno-inline-functions
CFLAGS	?= -O2 -g $(SMALL)
# Kept apart from CFLAGS so that `make CFLAGS=...` cannot drop them.
WFLAGS	 = -std=c11 -D_GNU_SOURCE -Wall -Wextra
# Sections per function, so that the linker drops what pnc does not call
# (the fuzz entries, for one): 4 KB of a 100 KB budget.
SECFLAGS = -ffunction-sections -fdata-sections
SANFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	   -fno-sanitize-recover=all
OBJS	 = pnc.o session.o punch.o mediator.o util.o wire.o rel.o crypto.o
BATS	?= bats
# The suite runner: bats files BATS_JOBS at a time (GNU parallel; every
# file's lab has namespace names of its own), the tests of one file in
# order (they share the file's lab and mediator). BATS_JOBS=1: one file
# after another, without GNU parallel.
BATS_JOBS ?= 3
# The slowest files start first: one that started last would set the
# suite's wall time alone (reliable.bats takes 2 to 2.5 min, most of it
# its 20% loss test; crypto, auth, hardnat 35 to 50 s each). The rest
# follow, each file named once.
SLOW	 = tests/reliable.bats tests/crypto.bats tests/auth.bats tests/hardnat.bats
SUITE	 = $(BATS) $$([ $(BATS_JOBS) -gt 1 ] && echo --jobs $(BATS_JOBS) \
	   --no-parallelize-within-files) $(SLOW) \
	   $$(ls tests/*.bats | grep -Fvx "$$(printf '%s\n' $(SLOW))")

all: pnc

# What the suite and its siblings need beyond make and cc: tests/deps.sh
# holds the one list, installs what is missing with apt-get (as root), or
# names it and exits 2. A no-op when all is there.
deps:
	sh tests/deps.sh

test sanitize fuzz bench matrix: deps

pnc: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -Wl,--gc-sections -o $@ $(OBJS)

.c.o:
	$(CC) $(WFLAGS) $(SECFLAGS) $(CFLAGS) -c $<

$(OBJS): pnc.h

# The whole suite, as CI and README run it (needs root: network namespaces).
test: pnc
	$(SUITE)

# The same suite against a binary built with ASan and UBSan. Reports go
# to files, so that one from a process a test killed is not missed.
sanitize:
	$(MAKE) clean
	$(MAKE) CFLAGS="$(SANFLAGS)" LDFLAGS="-fsanitize=address,undefined" pnc
	rm -rf san-logs && mkdir san-logs
	d=$$(pwd)/san-logs; \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$$d/asan \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$$d/ubsan \
	    $(SUITE)
	@if ls san-logs | grep -q .; then cat san-logs/*; exit 1; fi
	@echo "sanitize: no ASan/UBSan reports"
	$(MAKE) clean

# Calls point down the layers and only the loops poll (tests/layers.sh;
# objects of its table not built yet are skipped).
layers: $(OBJS)
	bash tests/layers.sh .

# libFuzzer over every parser (tests/fuzz.c), from the seed corpus, for
# FUZZ_SECS seconds; any crash, leak or sanitizer report fails it.
FUZZ_SECS = 60
fuzz:
	clang -g -O1 -std=c11 -D_GNU_SOURCE -Dmain=pnc_main \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o fuzz-pnc pnc.c session.c punch.c mediator.c util.c wire.c \
	    rel.c crypto.c tests/fuzz.c tests/fuzz_mediator.c tests/fuzz_peer.c
	rm -rf fuzz-work && mkdir fuzz-work && cp tests/fuzz-corpus/* fuzz-work/
	./fuzz-pnc -max_total_time=$(FUZZ_SECS) -max_len=2048 \
	    -print_final_stats=1 fuzz-work tests/fuzz-corpus

# libFuzzer over the secure channel and codes (tests/fuzz_sec.c): handshake
# input in both roles and every state, records after a handshake, code
# parsing; FUZZ_SECS seconds from tests/fuzz-sec-corpus. Self-contained.
fuzz-sec:
	clang -g -O1 -std=c11 -D_GNU_SOURCE \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o fuzz-sec-bin crypto.c tests/fuzz_sec.c
	rm -rf fuzz-sec-work && mkdir fuzz-sec-work && \
	    cp tests/fuzz-sec-corpus/* fuzz-sec-work/
	./fuzz-sec-bin -max_total_time=$(FUZZ_SECS) -max_len=2048 \
	    -print_final_stats=1 fuzz-sec-work
	rm -rf fuzz-sec-bin fuzz-sec-work

.PHONY: fuzz-sec

# A mediator and two peers on loopback exchange a message.
demo: pnc
	sh tests/demo.sh

# Time to punch, throughput, mediator capacity and footprint, each beside
# what it is compared with (needs root: network namespaces). A release
# build: what a user would install, without -g.
# Then -R, kernel TCP and kcptun over the lab's WAN link (issue 17):
# WANBENCH_MB (20) MB per run, each capped at WANBENCH_CAP (30) s, so
# its 7 paths take 15 minutes at worst, 3 to 5 when all finish.
bench:
	$(MAKE) clean
	$(MAKE) CFLAGS="-O2 $(SMALL)" pnc
	bash tests/bench.sh
	bash tests/wanbench.sh $${WANBENCH_MB:-20} $${WANBENCH_CAP:-30}

# The traversal matrix (needs root): tests/matrix.sh's UDP, TCP and
# relay columns, each written into its section of RESULTS (the relay
# column into README's too): about 15 minutes, most of it the trials
# that fail by design, each waiting out its -w.
matrix: pnc
	RESULTS=update bash tests/matrix.sh 20
	RESULTS=update PROTO_FLAG=-t W=5 bash tests/matrix.sh 10
	RESULTS=update RELAY=1 W=8 bash tests/matrix.sh 10

# A fully static pnc for routers and rescue shells, with musl (Debian
# musl-tools): optimised for size across files (-flto: 0.8 KB), every
# object from OBJS, stripped. pnc formats no floats and parses no
# strtod, so musl's float printing stays out. No RELRO: a static musl
# binary never mprotects it (no dynamic linker; strace shows no
# mprotect), and its page alignment padded the file by up to 4 KB;
# common-page-size=64 lets the data follow the text without a gap.
STATIC_CC = musl-gcc
STATIC_CFLAGS = -Os -flto -flto-partition=one $(SMALL) $(SECFLAGS)
STATIC_LDFLAGS = -static -s -Wl,--gc-sections -Wl,-z,noseparate-code \
	   -Wl,--build-id=none -Wl,-z,norelro -Wl,-z,common-page-size=64
static: pnc-static

pnc-static: $(OBJS:.o=.c) pnc.h
	$(STATIC_CC) $(WFLAGS) $(STATIC_CFLAGS) $(STATIC_LDFLAGS) -o $@ \
	    $(OBJS:.o=.c)

# pnc-VERSION.tar.gz of the files committed at HEAD (VERSION: pnc.h's).
dist:
	v=$$(sed -n 's/^#define PNC_VERSION[^"]*"\([^"]*\)".*/\1/p' pnc.h); \
	git archive --prefix=pnc-$$v/ -o pnc-$$v.tar.gz HEAD && \
	echo pnc-$$v.tar.gz

# The unit's ExecStart names the default BINDIR; it is rewritten for this one.
install: pnc
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(UNITDIR)
	cp pnc $(DESTDIR)$(BINDIR)/pnc
	cp pnc.1 $(DESTDIR)$(MANDIR)/pnc.1
	sed 's|/usr/local/bin/pnc|$(BINDIR)/pnc|' pnc-mediate.service \
	    >$(DESTDIR)$(UNITDIR)/pnc-mediate.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pnc $(DESTDIR)$(MANDIR)/pnc.1 \
	    $(DESTDIR)$(UNITDIR)/pnc-mediate.service

clean:
	rm -rf pnc $(OBJS) san-logs fuzz-pnc fuzz-work pnc-static

.PHONY: all deps test sanitize layers demo fuzz bench matrix static dist \
	install uninstall clean
