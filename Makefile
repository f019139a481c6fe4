# pnc - netcat for peer-to-peer. POSIX make; GNU make is fine too.

PREFIX	?= /usr/local
BINDIR	 = $(PREFIX)/bin
MANDIR	 = $(PREFIX)/share/man/man1
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

all: pnc

pnc: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -Wl,--gc-sections -o $@ $(OBJS)

.c.o:
	$(CC) $(WFLAGS) $(SECFLAGS) $(CFLAGS) -c $<

$(OBJS): pnc.h

# The whole suite, as CI and README run it (needs root: network namespaces).
test: pnc
	$(BATS) tests

# The same suite against a binary built with ASan and UBSan. Reports go
# to files, so that one from a process a test killed is not missed.
sanitize:
	$(MAKE) clean
	$(MAKE) CFLAGS="$(SANFLAGS)" LDFLAGS="-fsanitize=address,undefined" pnc
	rm -rf san-logs && mkdir san-logs
	d=$$(pwd)/san-logs; \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$$d/asan \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$$d/ubsan \
	    $(BATS) tests
	@if ls san-logs | grep -q .; then cat san-logs/*; exit 1; fi
	@echo "sanitize: no ASan/UBSan reports"
	$(MAKE) clean

# libFuzzer over every parser (tests/fuzz.c), from the seed corpus, for
# FUZZ_SECS seconds; any crash, leak or sanitizer report fails it.
FUZZ_SECS = 60
fuzz:
	clang -g -O1 -std=c11 -D_GNU_SOURCE -Dmain=pnc_main \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o fuzz-pnc pnc.c session.c punch.c mediator.c util.c wire.c \
	    rel.c crypto.c tests/fuzz.c tests/fuzz_peer.c
	rm -rf fuzz-work && mkdir fuzz-work && cp tests/fuzz-corpus/* fuzz-work/
	./fuzz-pnc -max_total_time=$(FUZZ_SECS) -max_len=2048 \
	    -print_final_stats=1 fuzz-work tests/fuzz-corpus

# A mediator and two peers on loopback exchange a message.
demo: pnc
	sh tests/demo.sh

# Time to punch, throughput, mediator capacity and footprint, each beside
# what it is compared with (needs root: network namespaces). A release
# build: what a user would install, without -g.
bench:
	$(MAKE) clean
	$(MAKE) CFLAGS="-O2 $(SMALL)" pnc
	bash tests/bench.sh

install: pnc
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)
	cp pnc $(DESTDIR)$(BINDIR)/pnc
	cp pnc.1 $(DESTDIR)$(MANDIR)/pnc.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pnc $(DESTDIR)$(MANDIR)/pnc.1

clean:
	rm -rf pnc $(OBJS) san-logs fuzz-pnc fuzz-work

.PHONY: all test sanitize demo fuzz bench install uninstall clean
