#!/usr/bin/env bats
#
# Shipping pnc (issue 19): the suite's own set-up (tests/deps.sh), the
# static musl binary, the systemd unit for the mediator, versions and the
# release tarball, and a build from a clean clone with the README's
# commands. No lab: this does not load helpers.bash. Root for setpriv,
# unshare and the mediator's descriptor limit.

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
PNC=${PNC:-$ROOT/pnc}
UNIT=$ROOT/pnc-mediate.service

bats_require_minimum_version 1.5.0

setup() {
	# Run under make test, a child make would print Entering/Leaving
	# lines around what these tests read: be a top-level make.
	unset MAKEFLAGS MFLAGS MAKELEVEL
	T=$BATS_TEST_TMPDIR
	PUB=
}

teardown() {
	[ -z "$PUB" ] || rm -rf "$PUB"
}

# fakebin DIR CMD...: DIR holds every command of /usr/bin except CMD...
# (and apt-get, apt): a PATH on which those are missing.
fakebin() {
	local d=$1 c
	shift
	mkdir -p "$d"
	cp -s /usr/bin/* "$d/" 2>/dev/null || true	# a directory or two
	for c in apt-get apt "$@"; do
		rm -f "$d/$c"
	done
}

# ---- tests/deps.sh -------------------------------------------------------

@test "deps.sh without apt-get: one line naming what is missing, exit 2" {
	fakebin "$T/bin" socat
	run env PATH="$T/bin" "$ROOT/tests/deps.sh"
	echo "$output"
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$output" = "deps.sh: missing socat (package socat); no apt-get here to install them" ]
}

@test "deps.sh with everything there: no output, no apt-get, exit 0, fast" {
	# A stand-in apt-get first on PATH records any call.
	mkdir -p "$T/spy"
	printf '#!/bin/sh\necho "$*" >>%s/calls\n' "$T" >"$T/spy/apt-get"
	chmod +x "$T/spy/apt-get"
	t0=${EPOCHREALTIME/./}
	run env PATH="$T/spy:$PATH" "$ROOT/tests/deps.sh"
	t1=${EPOCHREALTIME/./}
	echo "$output; $(( (t1 - t0) / 1000 )) ms"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/calls" ]
	# Measured about 10 ms; a second allows for a loaded machine.
	[ $(( (t1 - t0) / 1000 )) -lt 1000 ]
}

@test "deps.sh as root with apt-get: one update, one install of what is missing" {
	fakebin "$T/bin" socat
	# apt-get stand-in: logs its arguments; "installing" links socat in.
	cat >"$T/bin/apt-get" <<-EOF
	#!/bin/sh
	echo "\$*" >>"$T/calls"
	[ "\$1" = install ] && ln -s /usr/bin/socat "$T/bin/socat"
	exit 0
	EOF
	chmod +x "$T/bin/apt-get"
	run env PATH="$T/bin" "$ROOT/tests/deps.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "deps.sh: installing socat with apt-get" ]
	[ "$(cat "$T/calls")" = "update -qq
install -y -qq --no-install-recommends socat" ]
	# A second run finds it all there and calls nothing.
	rm "$T/calls"
	run env PATH="$T/bin" "$ROOT/tests/deps.sh"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$T/calls" ]
}

@test "deps.sh: an install that does not provide it, or no root, is exit 2" {
	fakebin "$T/bin" socat
	printf '#!/bin/sh\nexit 0\n' >"$T/bin/apt-get"
	chmod +x "$T/bin/apt-get"
	run env PATH="$T/bin" "$ROOT/tests/deps.sh"
	echo "$output"
	[ "$status" -eq 2 ]
	[ "${lines[1]}" = "deps.sh: still missing after apt-get: socat (package socat)" ]
	# Not root, apt-get there: nothing is tried. (A directory nobody can
	# reach, script included: bats' own and the tree may be root's alone.)
	PUB=$(mktemp -d /tmp/pnc-deps.XXXXXX)
	chmod 755 "$PUB"
	fakebin "$PUB/bin" socat
	printf '#!/bin/sh\ntouch %s/called\n' "$PUB" >"$PUB/bin/apt-get"
	cp "$ROOT/tests/deps.sh" "$PUB/"
	chmod 755 "$PUB/bin/apt-get" "$PUB/deps.sh"
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
	    env PATH="$PUB/bin" "$PUB/deps.sh"
	echo "$output"
	[ ! -e "$PUB/called" ]
	[ "$status" -eq 2 ]
	[ "$output" = "deps.sh: missing socat (package socat); run as root to install them with apt-get" ]
}

@test "make test, sanitize, fuzz and bench run deps.sh first; .ci/run uses it" {
	for t in test sanitize fuzz bench; do
		run make -C "$ROOT" -n "$t"
		echo "$t: $output" | head -3
		[ "$status" -eq 0 ]
		first=$(grep -n -m1 'tests/deps.sh' <<<"$output" | cut -d: -f1)
		[ -n "$first" ]
		# before anything that runs a test or a fuzzer
		other=$(grep -n -m1 -E 'bats|fuzz-pnc|bench.sh' <<<"$output" |
		    cut -d: -f1)
		[ "$first" -lt "$other" ]
	done
	# One list in one place: .ci/run installs nothing by itself.
	! grep -q 'apt-get' "$ROOT/.ci/run" || false
	grep -q 'tests/deps.sh\|make deps' "$ROOT/.ci/run"
}

# ---- make static ---------------------------------------------------------

@test "make static: a static musl pnc, no interpreter, that runs the demo" {
	run make -C "$ROOT" static
	echo "$output"
	[ "$status" -eq 0 ]
	bin=$ROOT/pnc-static
	run file "$bin"
	echo "$output"
	[[ "$output" == *"statically linked"* ]]
	[[ "$output" == *"stripped"* && "$output" != *"not stripped"* ]]
	[[ "$output" != *interpreter* ]]
	! readelf -lW "$bin" | grep -q INTERP || false
	! readelf -dW "$bin" | grep -q NEEDED || false
	run "$bin" -V
	[ "$status" -eq 0 ]
	[[ "$output" == "pnc "*" (protocol "*")" ]]
	cd "$ROOT"
	run env PNC="$bin" sh tests/demo.sh
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "demo ok" ]
}

# Issue 19 asks for under 100 KB: not met. Reached 130000 bytes before
# the encryption was linked, 157 040 with it, 187 696 with the new -R
# transport and port mapping (RESULTS, "The static binary"). This
# guards that figure against growth.
@test "the static pnc is under 200 KB stripped (issue 19 asks 100 KB: not met)" {
	[ -x "$ROOT/pnc-static" ] || make -C "$ROOT" static
	size=$(stat -c %s "$ROOT/pnc-static")
	echo "pnc-static: $size bytes stripped; guard 204800, target 102400"
	[ "$size" -lt 204800 ]
}

# ---- the systemd unit ----------------------------------------------------

# verify_unit FILE BINDIR: systemd-analyze verify on an installed unit,
# its ExecStart's BINDIR and man page seen where install put them.
verify_unit() {
	local unit=$1 dest=$2
	command -v systemd-analyze >/dev/null ||
	    { echo "no systemd-analyze: tests/deps.sh installs it"; return 1; }
	# verify checks that ExecStart is executable and that man finds the
	# Documentation= page: show it the installed tree in a mount
	# namespace of its own, nothing changed outside it.
	MANPATH=$dest/usr/local/share/man unshare -m sh -c \
	    "mount --bind '$dest/usr/local/bin' /usr/local/bin &&
	     exec systemd-analyze verify '$unit'" 2>&1
}

@test "make install puts the unit in PREFIX/lib/systemd/system; uninstall removes it" {
	d=$T/root
	run make -C "$ROOT" install PREFIX=/opt/pnc DESTDIR="$d"
	[ "$status" -eq 0 ]
	u=$d/opt/pnc/lib/systemd/system/pnc-mediate.service
	[ -f "$u" ]
	# ExecStart names this BINDIR; nothing else differs from the source.
	grep -qx 'ExecStart=/opt/pnc/bin/pnc mediate $PNC_MEDIATE_OPTS' "$u"
	[ "$(diff "$UNIT" "$u" | grep -c '^[<>]')" -eq 2 ]
	run make -C "$ROOT" uninstall PREFIX=/opt/pnc DESTDIR="$d"
	[ "$status" -eq 0 ]
	[ ! -e "$u" ]
}

@test "systemd-analyze verify: the installed unit has no warning" {
	d=$T/root
	run make -C "$ROOT" install DESTDIR="$d"
	[ "$status" -eq 0 ]
	unshare -m true 2>"$T/err" ||
	    skip "no mount namespace here (unshare -m: $(cat "$T/err")): cannot show verify the installed binary"
	run verify_unit "$d/usr/local/lib/systemd/system/pnc-mediate.service" "$d"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# The check can fail: a misspelt key is a warning it reports.
	sed 's/^NoNewPrivileges=/NoNewPrivilege=/' \
	    "$d/usr/local/lib/systemd/system/pnc-mediate.service" \
	    >"$T/bad.service"
	run verify_unit "$T/bad.service" "$d"
	echo "$output"
	[[ "$output" == *"Unknown key 'NoNewPrivilege'"* ]]
}

@test "the unit's sandbox: dynamic user, no capability, IPv4 and IPv6 only" {
	for l in DynamicUser=yes CapabilityBoundingSet= AmbientCapabilities= \
	    NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes \
	    'RestrictAddressFamilies=AF_INET AF_INET6'; do
		grep -qx "$l" "$UNIT" || { echo "missing: $l"; false; }
	done
	# 7321 needs no CAP_NET_BIND_SERVICE; nothing else is granted.
	! grep -E '^(AmbientCapabilities|CapabilityBoundingSet)=.' "$UNIT" || false
	! grep -q '^User=' "$UNIT" || false
}

# The descriptors a mediator on the wildcard (both families) holds with
# every TCP slot taken, from the source: 0-2, MAXSOCKS UDP sockets, two
# TCP listeners, MAXTCP clients, and one accept() to refuse the next.
@test "LimitNOFILE fits the mediator's TCP slots: all taken, the rest refused" {
	# (MAXSOCKS is MED_SOCKS in pnc.h once the mediator is split.)
	maxtcp=$(cat "$ROOT"/*.[ch] |
	    sed -n 's/^#define MAXTCP[[:space:]]*\([0-9]*\).*/\1/p')
	maxsocks=$(cat "$ROOT"/*.[ch] | sed -n \
	    's/^#define \(MAXSOCKS\|MED_SOCKS\)[[:space:]]*\([0-9]*\).*/\2/p')
	limit=$(sed -n 's/^LimitNOFILE=//p' "$UNIT")
	echo "MAXTCP=$maxtcp MAXSOCKS=$maxsocks LimitNOFILE=$limit"
	[ -n "$maxtcp" ] && [ -n "$maxsocks" ] && [ -n "$limit" ]
	[ $((3 + maxsocks + 2 + maxtcp + 1)) -le "$limit" ]
	# And in fact: a mediator under that limit, as nobody with no
	# capability, takes maxtcp clients and refuses six more cleanly.
	port=$((20000 + RANDOM % 20000))
	prlimit --nofile="$limit:$limit" setpriv --reuid=65534 \
	    --regid=65534 --clear-groups --inh-caps=-all \
	    --bounding-set=-all --no-new-privs \
	    "$PNC" mediate -v -p "$port" 2>"$T/med.log" 3>&- &
	mp=$!
	for i in $(seq 100); do
		grep -q serving "$T/med.log" && break
		sleep 0.05
	done
	grep -q serving "$T/med.log"
	base=$(ls "/proc/$mp/fd" | wc -l)
	# The mediator takes 16 connections from one address, 64 from a
	# /24, 256 from a /16, counted in 4096 buckets by a keyed hash (two
	# prefixes can share one): 2 from each of 515 loopback addresses
	# (all of 127/8 is this host's), each in a /24 of its own, at most
	# 3 in a /16, so that no bucket fills.
	(ulimit -n 4096
	 exec python3 -c '
import socket, sys, time
port, n, up = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
held = []
for i in range(n):
    s = socket.socket()
    s.bind(("127.%d.%d.1" % (i // 2 % 250 + 2, i // 2 // 250), 0))
    s.connect(("127.0.0.1", port))
    held.append(s)
open(up, "w").write("up\n")
while True:
    time.sleep(1)
' "$port" $((maxtcp + 6)) "$T/up") 3>&- &
	hp=$!
	# The peak: a connection that sends no frame is closed after 10 s,
	# so under load the first may go before the last came.
	held=0
	for i in $(seq 400); do
		cur=$(ls "/proc/$mp/fd" | wc -l)
		((cur > held)) && held=$cur
		((held == base + maxtcp)) && [ -e "$T/up" ] && break
		sleep 0.025
	done
	kill "$mp"
	wait "$mp" || true
	kill "$hp"
	wait "$hp" || true
	echo "base $base, held $held"
	cat "$T/med.log"
	[ "$held" -eq $((base + maxtcp)) ]
	grep -q ', 6 refused,' "$T/med.log"
}

# ---- versions, the tarball, a clean clone --------------------------------

@test "pnc -V prints the version and the protocol version, exit 0" {
	v=$(sed -n 's/^#define PNC_VERSION[^"]*"\([^"]*\)".*/\1/p' "$ROOT/pnc.h")
	p=$(sed -n 's/^#define PROTO_VERSION[[:space:]]*\([0-9]*\).*/\1/p' \
	    "$ROOT/pnc.h")
	run --separate-stderr "$PNC" -V
	[ "$status" -eq 0 ]
	[ "$output" = "pnc $v (protocol $p)" ]
	[ -z "$stderr" ]
	run "$PNC" -h
	[[ "$output" == *"pnc -V"* ]]
}

@test "-v stamps lines with the time on a terminal, not elsewhere" {
	run --separate-stderr "$PNC" punch -v -m 127.0.0.1:9 -w 0.3 n
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "${stderr_lines[0]}" == "pnc: local port "* ]]
	! grep -q '^pnc: \[' <<<"$stderr" || false
	run script -qec "$PNC punch -v -m 127.0.0.1:9 -w 0.3 n" /dev/null
	echo "$output"
	[[ "${lines[0]}" =~ ^pnc:\ \[[0-9]+\.[0-9]{3}\]\ local\ port ]]
}

# in_git: skip, saying why, outside a git checkout (a release tarball).
in_git() {
	git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1 ||
	    skip "not a git checkout: make dist and a clone need one"
}

@test "make dist: the tarball holds HEAD's files; its make and make demo work" {
	in_git
	cd "$ROOT"
	v=$(sed -n 's/^#define PNC_VERSION[^"]*"\([^"]*\)".*/\1/p' pnc.h)
	run make dist
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "pnc-$v.tar.gz" ]
	mv "pnc-$v.tar.gz" "$T/"
	mkdir "$T/x"
	tar -xzf "$T/pnc-$v.tar.gz" -C "$T/x"
	[ "$(ls "$T/x")" = "pnc-$v" ]
	diff <(git ls-tree -r --name-only HEAD) \
	    <(cd "$T/x/pnc-$v" && find . -type f | sed 's|^\./||' | sort)
	cd "$T/x/pnc-$v"
	run make
	[ "$status" -eq 0 ]
	run make demo
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "demo ok" ]
	# make test: deps, the build and every test file parsed (bats
	# --count); the run itself is the suite's minutes, not repeated here.
	run make test BATS="bats --count"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[-1]}" =~ ^[0-9]+$ ]] && [ "${lines[-1]}" -gt 100 ]
}

@test "a clean clone, a bare environment: make demo and the test set-up work" {
	in_git
	git clone -q "$ROOT" "$T/clone"
	cd "$T/clone"
	# As a new user: a login's PATH, nothing of this shell's environment.
	e=(env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$T" LANG=C)
	run "${e[@]}" make demo
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "demo ok" ]
	run "${e[@]}" make test BATS="bats --count"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[-1]}" =~ ^[0-9]+$ ]] && [ "${lines[-1]}" -gt 100 ]
}
