#!/usr/bin/env bats
#
# -K: authenticated peers (protocol v3: the CPace handshake with the key
# in its password, then sealed records) through real NAT, against an
# attacker without the key (tests/evil.c): an impostor registering the
# name (the mediator introduces it: the handshake turns it away),
# datagrams sprayed from strangers and spoofed from the core router with
# the peers' own addresses, ports and ids, and datagrams replayed or
# altered on the path. Every test checks that not one byte of the
# attacker's (marker EVILEVIL) reaches a stdout. In v2 the controls
# without -K showed the same attacks reaching stdout; in v3 every session
# is sealed, so the controls show a session with the name alone turning
# them away just the same.
#
# One lab for the file: hA behind rA, hB behind rB (home routers), hC on
# hA's LAN, hP on a public address, the mediator on core.

load helpers

bats_require_minimum_version 1.5.0

setup_file() {
	export EVIL=$BATS_FILE_TMPDIR/evil
	# -Werror: evil.c is house code too, and a warning fails the file.
	# crypto.c: evil mitm (tests/attack.bats) runs handshakes of its own.
	cc -O2 -Wall -Wextra -Werror -o "$EVIL" "$BATS_TEST_DIRNAME/evil.c" \
	    "$BATS_TEST_DIRNAME/../crypto.c"
	lab_up --public-host
	start_mediator
}

teardown_file() {
	lab_down
}

# Whatever a test started and did not see end (a failed test) is killed
# by pid, so that the next test starts alone; the mediator stays.
teardown() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null || true
	done
}

MEDLOG=$BATS_FILE_TMPDIR/med.log

# newkey FILE: a fresh random key, written as `echo KEY >FILE` would.
newkey() {
	echo "key-$RANDOM$RANDOM$RANDOM" >"$1"
}

AUTHFAIL="authentication failed: the peer does not hold our key or code, or someone tried to intercept"

# no_evil FILE...: not one attacker byte in any of them.
no_evil() {
	! grep -l EVILEVIL "$@" || false
}

# absent STRING FILE: FILE does not contain STRING. (A bare `! grep` at
# the top of a test would not fail it.)
absent() {
	! grep -F -- "$1" "$2" || false
}

# dropped TAG: "FORGED REPLAYED" from the -v report of run TAG.
dropped() {
	sed -n 's/.*dropped: \([0-9]*\) forged, \([0-9]*\) replayed, .*/\1 \2/p' \
	    "$T/$1.err" | tail -n 1
}

# val TAG KEY: the value of "KEY value" in TAG's stdout (evil's output).
val() {
	awk -v k="$2" '$1 == k { print $2 }' "$T/$1.out"
}

# count_ge N STRING FILE: FILE has at least N lines with STRING (for
# wait_for, which needs a command it can run again).
count_ge() {
	(( $(grep -cF -- "$2" "$3") >= $1 ))
}

# A port for -p that no other test of the run is likely to bind.
rport() {
	echo $((20000 + RANDOM % 12000))	# below the ephemeral range
}

# feed FROM COUNT: bytes FROM..FROM+COUNT-1 of $T/f into the connector's
# input fifo (fd $W). Returns when the connector has read all but a pipe
# buffer of them.
feed() {
	dd if="$T/f" iflag=skip_bytes,count_bytes skip="$1" count="$2" \
	    bs=65536 status=none >&"$W"
}

# paced OPTS...: a session whose connector (hB, -p $PB) reads $T/f only
# as fast as the test feeds it (feed, then `exec {W}>&-`), and whose
# listener (hA, -p $PA) writes what it gets to $T/l.out. OPTS go to
# both. Returns once both have punched through. PNC_KEEPALIVE makes
# the idle listener send something now and then, for evil sniff.
paced() {
	N=${N:-$(uname_)} PA=${PA:-$(rport)} PB=${PB:-$(rport)}
	mkfifo "$T/in"
	PNC_KEEPALIVE=0.3 bgrun_in hA l /dev/null "$PNC" listen -v -p "$PA" \
	    -m "$MED1" -w 20 "$@" "$N"
	PNC_KEEPALIVE=0.3 bgrun_in hB c "$T/in" "$PNC" connect -v -p "$PB" \
	    -m "$MED1" -w 20 "$@" "$N"
	exec {W}>"$T/in"
	wait_for 10 grep -q "handshake done" "$T/l.err"
	wait_for 10 grep -q "handshake done" "$T/c.err"
}

# paced_end: end the connector's input and wait for both sides.
paced_end() {
	exec {W}>&-
	wait_tag c 30; RCC=$RC
	wait_tag l 30; RCL=$RC
	show l c
}

@test "matching key files: 1 MB through both NATs, exit 0, checksums equal" {
	n=$(uname_)
	newkey "$T/k"
	randfile "$T/f" 1000000
	bgrun_in hA l /dev/null "$PNC" listen -v -K "$T/k" -m "$MED1" -w 15 "$n"
	bgrun_in hB c "$T/f" "$PNC" connect -v -K "$T/k" -m "$MED1" -w 15 "$n"
	wait_tag c; rcc=$RC
	wait_tag l; rcl=$RC
	show l c
	[ "$rcc" -eq 0 ]
	[ "$rcl" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	[ ! -s "$T/c.out" ]
	grep -q "handshake done: the peer holds our name and key" "$T/l.err"
	grep -q "handshake done: the peer holds our name and key" "$T/c.err"
	grep -q "session open with $n, encrypted" "$T/l.err"
	# nobody attacked: nothing dropped
	[ "$(dropped l)" = "0 0" ]
	[ "$(dropped c)" = "0 0" ]
}

@test "PNC_KEY and a key file with CRLF are the same key: 1 MB listener to connect -d" {
	n=$(uname_)
	k=key-$RANDOM$RANDOM
	printf '%s\r\n' "$k" >"$T/k"
	randfile "$T/f" 1000000
	# -v: should this ever fail, the log says where it stood.
	bgrun_in hA l "$T/f" "$PNC" listen -v -K "$T/k" -m "$MED1" -w 15 "$n"
	PNC_KEY=$k bgrun hB c "$PNC" connect -v -d -m "$MED1" -w 15 "$n"
	wait_tag l; rcl=$RC
	wait_tag c; rcc=$RC
	show l c
	[ "$rcl" -eq 0 ]
	[ "$rcc" -eq 0 ]
	[ "$(sum "$T/c.out")" = "$(sum "$T/f")" ]
	[ ! -s "$T/l.out" ]
}

# v2 sent a keyed hash of the name, which let anyone who saw it test
# guesses of the key offline; v3 registers the name itself, and the key
# enters only the handshake. Replaces "the mediator sees only the keyed
# hash".
@test "punch -K prints the usual line; the mediator sees the name, never the key" {
	n=secret-$(uname_)
	newkey "$T/k"
	bgrun hA a "$PNC" punch -K "$T/k" -m "$MED1" -w 10 "$n"
	PNC_KEY=$(cat "$T/k") bgrun hB b "$PNC" punch -m "$MED1" -w 10 "$n"
	wait_tag a; rca=$RC
	wait_tag b; rcb=$RC
	show a b
	[ "$rca" -eq 0 ]
	[ "$rcb" -eq 0 ]
	read -r la pa ppa <"$T/a.out"
	read -r lb pb ppb <"$T/b.out"
	[[ "$(cat "$T/a.out")" =~ ^[0-9]+\ [0-9.]+\ [0-9]+$ ]]
	[[ "$(cat "$T/b.out")" =~ ^[0-9]+\ [0-9.]+\ [0-9]+$ ]]
	[ "$pa" = "$WAN_B" ]
	[ "$pb" = "$WAN_A" ]
	[ "$ppa" = "$lb" ]
	[ "$ppb" = "$la" ]
	# -v mediator: both registrations and the introduction, under the
	# name; the key never.
	[ "$(grep -c "registered $n role 1 from" "$MEDLOG")" -eq 2 ]
	grep -q "introduced $n: " "$MEDLOG"
	absent "$(cat "$T/k")" "$MEDLOG"
}

# punchpair FILE_A FILE_B: pnc punch -K FILE_A and -K FILE_B (or
# PNC_KEY if FILE_B is "env:KEY") meet under a fresh name; prints
# "RCA RCB".
punchpair() {
	local n=$(uname_)
	bgrun hA a "$PNC" punch -K "$1" -m "$MED1" -w 5 "$n"
	if [[ $2 == env:* ]]; then
		PNC_KEY=${2#env:} bgrun hB b "$PNC" punch -m "$MED1" -w 5 "$n"
	else
		bgrun hB b "$PNC" punch -K "$2" -m "$MED1" -w 5 "$n"
	fi
	wait_tag a 10; local ra=$RC
	wait_tag b 10; local rb=$RC
	show a b >&2
	echo "$ra $rb"
}

# v2 checked the keyed name's derivation; v3 has no keyed name, so the
# same rule is checked by who meets: the keys as the handshake uses them.
@test "one trailing LF or CRLF is not key material: such keys meet, an extra LF or a lone CR does not" {
	printf 'k3y' >"$T/plain"
	printf 'k3y\n' >"$T/lf"
	printf 'k3y\r\n' >"$T/crlf"
	printf 'k3y\n\n' >"$T/lflf"
	printf 'k3y\r' >"$T/cr"
	[ "$(punchpair "$T/plain" "$T/crlf")" = "0 0" ]
	[ "$(punchpair "$T/lf" env:k3y)" = "0 0" ]
	[ "$(punchpair "$T/plain" "$T/lflf")" = "1 1" ]
	grep -qF "$AUTHFAIL" "$T/a.err"
	grep -qF "$AUTHFAIL" "$T/b.err"
	[ "$(punchpair "$T/plain" "$T/cr")" = "1 1" ]
}

# v2: peers with different keys were never introduced (the keyed names
# differed, and let the mediator test key guesses). v3: they are
# introduced under the one name, and the handshake fails on both sides.
@test "mismatched keys: introduced, both exit 1 within -w with the authentication message, no data" {
	n=$(uname_)
	newkey "$T/k1"
	newkey "$T/k2"
	echo "listener's data" >"$T/l.in"
	echo "connector's data" >"$T/c.in"
	start=${EPOCHREALTIME/./}
	bgrun_in hA l "$T/l.in" "$PNC" listen -K "$T/k1" -m "$MED1" -w 3 "$n"
	bgrun_in hB c "$T/c.in" "$PNC" connect -K "$T/k2" -m "$MED1" -w 3 "$n"
	wait_tag l 10; rcl=$RC
	wait_tag c 10; rcc=$RC
	end=${EPOCHREALTIME/./}
	show l c
	[ "$rcl" -eq 1 ]
	[ "$rcc" -eq 1 ]
	(( end - start < 5000000 ))
	[ "$(cat "$T/l.err")" = "pnc: $AUTHFAIL" ]
	[ "$(cat "$T/c.err")" = "pnc: $AUTHFAIL" ]
	[ ! -s "$T/l.out" ]
	[ ! -s "$T/c.out" ]
	grep -q "registered $n role 2" "$MEDLOG"
	grep -q "registered $n role 3" "$MEDLOG"
	grep -q "introduced $n: " "$MEDLOG"
	absent "$(cat "$T/k1")" "$MEDLOG"
	absent "$(cat "$T/k2")" "$MEDLOG"
}

# impostor ROLE SECS: evil registers the name $N with ROLE from hP, a
# public address (the victim's probes reach it).
impostor() {
	bgrun hP e "$EVIL" register "$MED1" "$N" "$1" "$2"
}

@test "an impostor listening under the name: the connector fails authentication, then the real pair meets" {
	N=$(uname_)
	newkey "$T/k"
	w=$N
	impostor listen 8
	wait_for 5 grep -q "registered $w role 2" "$MEDLOG"
	# connect sends something, if it ever thinks it has a peer
	echo "victim's data" >"$T/v.in"
	bgrun_in hB v "$T/v.in" "$PNC" connect -v -K "$T/k" -m "$MED1" -w 4 "$N"
	wait_tag v 10; rcv=$RC
	show v
	[ "$rcv" -eq 1 ]
	grep -qF "$AUTHFAIL" "$T/v.err"
	[ ! -s "$T/v.out" ]
	# the real listener replaces the impostor's meeting; the impostor's
	# refreshes are refused from then on
	randfile "$T/f" 300000
	bgrun_in hA l /dev/null "$PNC" listen -K "$T/k" -m "$MED1" -w 10 "$N"
	wait_for 5 count_ge 2 "registered $w role 2" "$MEDLOG"
	bgrun_in hB c "$T/f" "$PNC" connect -K "$T/k" -m "$MED1" -w 10 "$N"
	wait_tag c; rcc=$RC
	wait_tag l; rcl=$RC
	wait_tag e 15; rce=$RC
	show l c e
	cat "$T/e.out"
	[ "$rcc" -eq 0 ]
	[ "$rcl" -eq 0 ]
	[ "$rce" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	# the impostor really met the victim: its probes came through the
	# victim's NAT, so the impostor's datagrams reached the victim
	[ "$(val e introduced)" = 1 ]
	[ "$(val e probes-received)" -gt 0 ]
	no_evil "$T"/*.out
}

@test "an impostor connecting under the name: the listener fails authentication" {
	N=$(uname_)
	newkey "$T/k"
	w=$N
	bgrun_in hA v /dev/null "$PNC" listen -v -K "$T/k" -m "$MED1" -w 5 "$N"
	wait_for 5 grep -q "registered $w role 2" "$MEDLOG"
	impostor connect 6
	wait_tag v 10; rcv=$RC
	wait_tag e 10
	show v e
	cat "$T/e.out"
	[ "$rcv" -eq 1 ]
	grep -qF "$AUTHFAIL" "$T/v.err"
	[ ! -s "$T/v.out" ]
	[ "$(val e introduced)" = 1 ]
	[ "$(val e probes-received)" -gt 0 ]
	no_evil "$T"/*.out
}

@test "a pnc without -K under the same name: both fail authentication" {
	N=$(uname_)
	newkey "$T/k"
	w=$N
	bgrun_in hA v /dev/null "$PNC" listen -v -K "$T/k" -m "$MED1" -w 4 "$N"
	wait_for 5 grep -q "registered $w role 2" "$MEDLOG"
	echo "keyless data" >"$T/e.in"
	bgrun_in hB e "$T/e.in" "$PNC" connect -m "$MED1" -w 4 "$w"
	wait_tag v 10; rcv=$RC
	wait_tag e 10; rce=$RC
	show v e
	[ "$rcv" -eq 1 ]
	[ "$rce" -eq 1 ]
	[ "$(cat "$T/e.err")" = "pnc: $AUTHFAIL" ]
	grep -qF "$AUTHFAIL" "$T/v.err"
	[ ! -s "$T/v.out" ]
	[ ! -s "$T/e.out" ]
}

@test "an impostor punching under the name: punch -K fails authentication" {
	N=$(uname_)
	newkey "$T/k"
	w=$N
	impostor punch 6
	wait_for 5 grep -q "registered $w role 1" "$MEDLOG"
	bgrun hB v "$PNC" punch -v -K "$T/k" -m "$MED1" -w 4 "$N"
	wait_tag v 10; rcv=$RC
	wait_tag e 10
	show v e
	cat "$T/e.out"
	[ "$rcv" -eq 1 ]
	grep -qF "authentication failed" "$T/v.err"
	[ ! -s "$T/v.out" ]
	[ "$(val e introduced)" = 1 ]
	no_evil "$T"/*.out
}

# sniff_ids: the ids of both peers of a paced session, learnt on core
# from their traffic as an on-path attacker would, into IDA and IDB.
sniff_ids() {
	bgrun core sa "$EVIL" sniff "$WAN_A" "$WAN_B" 5
	bgrun core sb "$EVIL" sniff "$WAN_B" "$WAN_A" 5
	wait_for 3 grep -q sniffing "$T/sa.err"
	wait_for 3 grep -q sniffing "$T/sb.err"
	feed 0 100000
	wait_tag sa 8; [ "$RC" -eq 0 ]
	wait_tag sb 8; [ "$RC" -eq 0 ]
	IDA=$(val sa id) IDB=$(val sb id)
	# the NATs kept the ports: what we spoof is the real flow
	[ "$(val sa sport)" = "$PA" ]
	[ "$(val sa dport)" = "$PB" ]
}

# spoof SECS KINDS: spray each peer from core as if from the other (its
# public address and port, both ids), in the background.
spoof() {
	bgrun core xa "$EVIL" spray -k "$2" -s "$WAN_B:$PB" -i "$IDA" \
	    -i "$IDB" "$WAN_A" "$PA" "$PA" "$1"
	bgrun core xb "$EVIL" spray -k "$2" -s "$WAN_A:$PA" -i "$IDA" \
	    -i "$IDB" "$WAN_B" "$PB" "$PB" "$1"
}

@test "spray during and after the punch, from strangers and spoofed as the peer: data intact, nothing forged gets through" {
	newkey "$T/k"
	randfile "$T/f" 1000000
	# Strangers from the start, through the punch and the session: on
	# hA's LAN (hC), at hB from its router, and from the internet (hP,
	# which the NATs' filtering stops) at ports around the ones used.
	N=$(uname_) PA=$(rport) PB=$(rport)
	bgrun hC g1 "$EVIL" spray "$HA" $((PA - 3)) $((PA + 3)) 6
	bgrun rB g2 "$EVIL" spray "$HB" $((PB - 3)) $((PB + 3)) 6
	bgrun hP g3 "$EVIL" spray "$WAN_A" $((PA - 3)) $((PA + 3)) 6
	bgrun hP g4 "$EVIL" spray "$WAN_B" $((PB - 3)) $((PB + 3)) 6
	paced -K "$T/k"
	# An on-path attacker: right addresses, ports and ids, no key.
	sniff_ids
	spoof 2 gtdekrp
	feed 100000 400000
	wait_tag xa 6; [ "$RC" -eq 0 ]
	wait_tag xb 6; [ "$RC" -eq 0 ]
	feed 500000 500000
	paced_end
	for g in g1 g2 g3 g4; do
		wait_tag $g 10
		[ "$RC" -eq 0 ]
		echo "$g: $(val $g sent) sent"
		[ "$(val $g sent)" -gt 0 ]
	done
	[ "$RCC" -eq 0 ]
	[ "$RCL" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	[ ! -s "$T/c.out" ]
	no_evil "$T"/*.out
	# the spoofed datagrams reached both and were counted as forged
	read -r fl rl <<<"$(dropped l)"
	read -r fc rc <<<"$(dropped c)"
	echo "listener: $fl forged $rl replayed; connector: $fc forged $rc replayed"
	[ "$fl" -gt 0 ]
	[ "$fc" -gt 0 ]
}

# v2's control showed the spray reaching stdout without -K; v3 seals
# every session, so the same spray is turned away with the name alone.
@test "without -K too (v3: every session sealed): the spoofed spray never reaches stdout" {
	randfile "$T/f" 300000
	paced
	sniff_ids
	spoof 1 d
	wait_tag xa 5
	wait_tag xb 5
	feed 100000 200000
	paced_end
	[ "$RCC" -eq 0 ]
	[ "$RCL" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	no_evil "$T"/*.out
}

# replay [flip]: evil on core captures 30 datagrams hB -> hA and injects
# them again (altered with flip) while the connector reads 600 kB. The
# sender without UDP GSO (PNC_GSO=0, set by the tests that call this):
# the lab's routers forward a GSO message whole where a NIC would cut it
# on a real wire, and evil replays wire datagrams.
replay() {
	bgrun core "r$1" "$EVIL" replay "$WAN_B" "$WAN_A" 30 10 ${1:+"$1"}
	wait_for 3 grep -q capturing "$T/r$1.err"
	feed "$OFF" 600000
	OFF=$((OFF + 600000))
	wait_tag "r$1" 12
	cat "$T/r$1.out"
	[ "$RC" -eq 0 ]
	[ "$(val "r$1" injected)" -gt 0 ]
}

@test "replayed and altered datagrams on the path are dropped and counted" {
	newkey "$T/k"
	randfile "$T/f" 2000000
	PNC_GSO=0 paced -K "$T/k"
	OFF=0
	replay
	replay flip
	feed "$OFF" $((2000000 - OFF))
	paced_end
	[ "$RCC" -eq 0 ]
	[ "$RCL" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	read -r forged replayed <<<"$(dropped l)"
	echo "dropped $forged forged and $replayed replayed"
	# Every record replayed or altered is dropped and counted. At most 10% slack: a replay whose original was
	# lost in a socket buffer is simply taken.
	# An altered copy of a record already taken is counted as replayed
	# (the window is checked before the tag: it is dropped either way);
	# as forged only if the flip hit its counter. Hence the sum.
	rs=$(val r session) fs=$(val rflip session)
	[ "$replayed" -ge $((rs * 9 / 10)) ]
	[ $((forged + replayed)) -le $((rs + fs)) ]
	[ $((forged + replayed)) -ge $(((rs + fs) * 9 / 10)) ]
	[ "$rs" -gt 0 ]
	[ "$fs" -gt 0 ]
}

# v2's control wrote a replayed datagram twice without -K; v3 drops it
# with the name alone.
@test "without -K too (v3): a replayed datagram is dropped and counted, never written twice" {
	randfile "$T/f" 1500000
	PNC_GSO=0 paced
	OFF=0
	replay
	feed "$OFF" $((1500000 - OFF))
	paced_end
	[ "$RCC" -eq 0 ]
	[ "$RCL" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	read -r forged replayed <<<"$(dropped l)"
	echo "dropped $forged forged and $replayed replayed"
	[ "$replayed" -gt 0 ]
}

@test "-R -K: spoofed spray, replays and alterations are dropped and counted, data intact" {
	newkey "$T/k"
	randfile "$T/f" 1500000
	paced -R -K "$T/k"
	sniff_ids
	spoof 2 gtdekrp
	OFF=100000
	replay
	replay flip
	wait_tag xa 6; [ "$RC" -eq 0 ]
	wait_tag xb 6; [ "$RC" -eq 0 ]
	feed "$OFF" $((1500000 - OFF))
	paced_end
	[ "$RCC" -eq 0 ]
	[ "$RCL" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	[ ! -s "$T/c.out" ]
	no_evil "$T"/*.out
	read -r forged replayed <<<"$(dropped l)"
	read -r fc rc <<<"$(dropped c)"
	echo "listener: $forged forged $replayed replayed; connector: $fc forged"
	[ "$replayed" -gt 0 ]
	[ "$forged" -gt 0 ]
	[ "$fc" -gt 0 ]
}
