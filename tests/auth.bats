#!/usr/bin/env bats
#
# -K: authenticated peers (protocol v2) through real NAT, against an
# attacker without the key (tests/evil.c): an impostor registering the
# keyed name, datagrams sprayed from strangers and spoofed from the
# core router with the peers' own addresses, ports and ids, and
# datagrams replayed or altered on the path. Every test checks that not
# one byte of the attacker's (marker EVILEVIL) reaches a stdout, and the
# controls without -K show that the same attacks do reach it there.
#
# One lab for the file: hA behind rA, hB behind rB (home routers), hC on
# hA's LAN, hP on a public address, the mediator on core.

load helpers

bats_require_minimum_version 1.5.0

setup_file() {
	export EVIL=$BATS_FILE_TMPDIR/evil
	# -Werror: evil.c is house code too, and a warning fails the file.
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

# wire KEYFILE NAME: the name the mediator must see (spec derivation,
# computed by evil.c, not by pnc).
wire() {
	"$EVIL" wirename "$1" "$2" | awk '$1 == "wirename" { print $2 }'
}

# no_evil FILE...: not one attacker byte in any of them.
no_evil() {
	! grep -l EVILEVIL "$@"
}

# absent STRING FILE: FILE does not contain STRING. (A bare `! grep` at
# the top of a test would not fail it.)
absent() {
	! grep -F -- "$1" "$2"
}

# dropped TAG: "FORGED REPLAYED" from the -v report of run TAG.
dropped() {
	sed -n 's/.*dropped \([0-9]*\) forged and \([0-9]*\) replayed datagram(s)$/\1 \2/p' \
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
	wait_for 10 grep -q "punched through" "$T/l.err"
	wait_for 10 grep -q "punched through" "$T/c.err"
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
	grep -q "session open with $n, authenticated" "$T/l.err"
	grep -q "session open with $n, authenticated" "$T/c.err"
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

@test "punch -K prints the usual line; the mediator sees only the keyed hash" {
	n=secret-$(uname_)
	newkey "$T/k"
	w=$(wire "$T/k" "$n")
	[[ $w =~ ^[0-9a-f]{32}$ ]]
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
	# hash the spec derives; the real name never.
	[ "$(grep -c "registered $w role 1 from" "$MEDLOG")" -eq 2 ]
	grep -q "introduced $w: " "$MEDLOG"
	absent "$n" "$MEDLOG"
}

# registers NAME [-K FILE]: pnc punch registers NAME, and is killed once
# the mediator has logged that (however long it takes); prints the name
# the mediator logged for it.
registers() {
	local n=$1 port=$((32000 - RANDOM % 500)) line before pid
	shift
	line="registered [0-9a-f]* role 1 from $WAN_A:$port\$"
	before=$(grep -c -- "$line" "$MEDLOG") || true
	lab_bg hA /dev/null "$PNC" punch "$@" -m "$MED1" -p "$port" -w 10 "$n"
	pid=$LAB_BG_PID
	wait_for 10 lines_cmp -gt "${before:-0}" "$line" "$MEDLOG" || true
	kill "$pid" 2>/dev/null || true
	wait_for 5 lab_pid_dead "$pid" || true
	sed -n "s/.*registered \([0-9a-f]*\) role 1 from $WAN_A:$port\$/\1/p" \
	    "$MEDLOG" | tail -n 1
}

@test "the keyed name follows the spec: one trailing LF or CRLF is not key material" {
	n=$(uname_)
	printf 'k3y' >"$T/plain"
	printf 'k3y\n' >"$T/lf"
	printf 'k3y\r\n' >"$T/crlf"
	printf 'k3y\n\n' >"$T/lflf"
	printf 'k3y\r' >"$T/cr"
	want=$(wire "$T/plain" "$n")
	[ "$(registers "$n" -K "$T/plain")" = "$want" ]
	[ "$(registers "$n" -K "$T/lf")" = "$want" ]
	[ "$(registers "$n" -K "$T/crlf")" = "$want" ]
	[ "$(PNC_KEY=k3y registers "$n")" = "$want" ]
	# only one newline goes, and a lone CR is key material
	[ "$(registers "$n" -K "$T/lflf")" = "$(wire "$T/lflf" "$n")" ]
	[ "$(wire "$T/lflf" "$n")" != "$want" ]
	[ "$(registers "$n" -K "$T/cr")" = "$(wire "$T/cr" "$n")" ]
}

@test "mismatched keys: both exit 1 within -w, saying no peer with our key came" {
	n=$(uname_)
	newkey "$T/k1"
	newkey "$T/k2"
	start=${EPOCHREALTIME/./}
	bgrun hA l "$PNC" listen -K "$T/k1" -m "$MED1" -w 3 "$n"
	bgrun hB c "$PNC" connect -K "$T/k2" -m "$MED1" -w 3 "$n"
	wait_tag l 10; rcl=$RC
	wait_tag c 10; rcc=$RC
	end=${EPOCHREALTIME/./}
	show l c
	[ "$rcl" -eq 1 ]
	[ "$rcc" -eq 1 ]
	(( end - start < 5000000 ))
	grep -qF "no peer with our key came for \"$n\"" "$T/l.err"
	grep -qF "no peer with our key came for \"$n\"" "$T/c.err"
	[ ! -s "$T/l.out" ]
	[ ! -s "$T/c.out" ]
	# two names at the mediator, never introduced
	w1=$(wire "$T/k1" "$n")
	w2=$(wire "$T/k2" "$n")
	grep -q "registered $w1 role 2" "$MEDLOG"
	grep -q "registered $w2 role 3" "$MEDLOG"
	absent "introduced $w1" "$MEDLOG"
	absent "introduced $w2" "$MEDLOG"
	absent "$n" "$MEDLOG"
}

# impostor ROLE SECS: evil registers the keyed name of $N (key $T/k) with
# ROLE from hP, a public address (the victim's probes reach it).
impostor() {
	bgrun hP e "$EVIL" register "$MED1" "$(wire "$T/k" "$N")" "$1" "$2"
}

@test "an impostor listening under the keyed name: the connector fails authentication, then the real pair meets" {
	N=$(uname_)
	newkey "$T/k"
	w=$(wire "$T/k" "$N")
	impostor listen 8
	wait_for 5 grep -q "registered $w role 2" "$MEDLOG"
	# connect sends something, if it ever thinks it has a peer
	echo "victim's data" >"$T/v.in"
	bgrun_in hB v "$T/v.in" "$PNC" connect -v -K "$T/k" -m "$MED1" -w 4 "$N"
	wait_tag v 10; rcv=$RC
	show v
	[ "$rcv" -eq 1 ]
	grep -qF "authentication failed: the peer introduced for \"$N\" does not hold our key" "$T/v.err"
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

@test "an impostor connecting under the keyed name: the listener fails authentication" {
	N=$(uname_)
	newkey "$T/k"
	w=$(wire "$T/k" "$N")
	bgrun_in hA v /dev/null "$PNC" listen -v -K "$T/k" -m "$MED1" -w 5 "$N"
	wait_for 5 grep -q "registered $w role 2" "$MEDLOG"
	impostor connect 6
	wait_tag v 10; rcv=$RC
	wait_tag e 10
	show v e
	cat "$T/e.out"
	[ "$rcv" -eq 1 ]
	grep -qF "authentication failed: the peer introduced for \"$N\" does not hold our key" "$T/v.err"
	[ ! -s "$T/v.out" ]
	[ "$(val e introduced)" = 1 ]
	[ "$(val e probes-received)" -gt 0 ]
	no_evil "$T"/*.out
}

@test "a pnc without -K that registers the keyed name itself: pnc -K fails authentication" {
	N=$(uname_)
	newkey "$T/k"
	w=$(wire "$T/k" "$N")
	bgrun_in hA v /dev/null "$PNC" listen -v -K "$T/k" -m "$MED1" -w 4 "$N"
	wait_for 5 grep -q "registered $w role 2" "$MEDLOG"
	echo "keyless data" >"$T/e.in"
	bgrun_in hB e "$T/e.in" "$PNC" connect -m "$MED1" -w 4 "$w"
	wait_tag v 10; rcv=$RC
	wait_tag e 10; rce=$RC
	show v e
	[ "$rcv" -eq 1 ]
	[ "$rce" -eq 1 ]
	grep -qF "authentication failed: the peer introduced for \"$N\" does not hold our key" "$T/v.err"
	[ ! -s "$T/v.out" ]
	[ ! -s "$T/e.out" ]
}

@test "an impostor punching under the keyed name: punch -K fails authentication" {
	N=$(uname_)
	newkey "$T/k"
	w=$(wire "$T/k" "$N")
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

@test "control without -K: the spoofed spray does reach stdout" {
	randfile "$T/f" 300000
	paced
	sniff_ids
	spoof 1 d
	wait_tag xa 5
	wait_tag xb 5
	feed 100000 200000
	paced_end
	grep -q EVILEVIL "$T/l.out"
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
	# Every session message replayed is counted as replayed, every one
	# altered as forged (PROBE/ACK from the punch's last moments are
	# checked apart). At most 10% slack: a replay whose original was
	# lost in a socket buffer is simply taken.
	rs=$(val r session) fs=$(val rflip session)
	[ "$replayed" -le "$rs" ]
	[ "$replayed" -ge $((rs * 9 / 10)) ]
	[ "$forged" -le "$fs" ]
	[ "$forged" -ge $((fs * 9 / 10)) ]
	[ "$rs" -gt 0 ]
	[ "$fs" -gt 0 ]
}

@test "control without -K: a replayed datagram is written twice" {
	randfile "$T/f" 1500000
	PNC_GSO=0 paced
	OFF=0
	replay
	feed "$OFF" $((1500000 - OFF))
	paced_end
	[ "$RCC" -eq 0 ]
	[ "$RCL" -eq 0 ]
	sent=$(stat -c %s "$T/f") got=$(stat -c %s "$T/l.out")
	echo "sent $sent received $got"
	[ "$got" -gt "$sent" ]
	[ "$(sum "$T/l.out")" != "$(sum "$T/f")" ]
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
