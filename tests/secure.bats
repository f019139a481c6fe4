#!/usr/bin/env bats
#
# Protocol 3 through the real-NAT lab, as a user sees it: every session
# (datagrams, -R, -t, relayed, -K) runs the CPace handshake over the
# punched path and carries its data in sealed records; wrong keys and
# wrong codes fail both sides with one message; codes meet; -v counts
# what the records layer dropped. (The attacks, a dishonest mediator, a
# sniffer and an on-path mangler, are other files' tests.)
#
# One lab for the file: hA behind rA, hB behind rB (home routers), a
# mediator on core; the relayed test builds its own (both NATs
# symmetric) after the others.

load helpers

AUTHFAIL="pnc: authentication failed: the peer does not hold our key or code, or someone tried to intercept"

setup_file() {
	lab_up
	start_mediator
}

teardown_file() {
	lab_down
}

teardown() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null || true
	done
}

# both_ways OPTS...: listen and connect with OPTS each send a file to the
# other (the listener 300 kB, the connector 200 kB, which waits for all
# of the listener's before its input ends: nc -l stops at the
# connector's end); both exit 0, checksums equal, -v's lines there.
both_ways() {
	local n
	n=$(uname_)
	randfile "$T/da" 300000
	randfile "$T/db" 200000
	bgrun_in hA l "$T/da" "$PNC" listen -v "$@" -m "$MED1" -w 15 "$n"
	{ cat "$T/db"; wait_for 20 size_ge "$T/c.out" 300000; } |
	    ip netns exec "$LAB-hB" "$PNC" connect -v "$@" -m "$MED1" -w 15 \
	    "$n" >"$T/c.out" 2>"$T/c.err" 3>&- &
	PIDS[c]=$!
	wait_tag l; rcl=$RC
	wait_tag c; rcc=$RC
	show l c
	[ "$rcl" -eq 0 ]
	[ "$rcc" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/db")" ]
	[ "$(sum "$T/c.out")" = "$(sum "$T/da")" ]
	grep -q "handshake done" "$T/l.err"
	grep -q "handshake done" "$T/c.err"
	# -v: the records layer's counters at the end, nothing dropped
	grep -q "dropped: 0 forged, 0 replayed, 0 too old" "$T/l.err"
	grep -q "dropped: 0 forged, 0 replayed, 0 too old" "$T/c.err"
}

@test "datagrams: encrypted both ways across two NATs, checksums equal, -v counters" {
	both_ways
	grep -q "session open with t[0-9]*-[0-9]*, encrypted" "$T/l.err"
}

@test "-R: encrypted both ways, checksums equal" {
	both_ways -R
}

@test "-t: records over TCP both ways, checksums equal" {
	both_ways -t
	grep -q "using TCP" "$T/c.err"
}

@test "-K: both ways with a shared key file" {
	printf 'k-%s\n' "$RANDOM$RANDOM" >"$T/k"
	both_ways -K "$T/k"
	grep -q "the peer holds our name and key" "$T/l.err"
}

@test "-t -K: both ways (v2 refused -K with -t)" {
	printf 'k-%s\n' "$RANDOM$RANDOM" >"$T/k"
	both_ways -t -K "$T/k"
}

# wrong_pair OPTS_L -- OPTS_C: listen and connect (both with input) under
# one name fail: exit 1 both, exactly the message, no data on stdout.
wrong_pair() {
	local n lo=() co=()
	n=$(uname_)
	while [ "$1" != -- ]; do lo+=("$1"); shift; done
	shift
	co=("$@")
	echo "listener's data" >"$T/l.in"
	echo "connector's data" >"$T/c.in"
	bgrun_in hA l "$T/l.in" "$PNC" listen "${lo[@]}" -m "$MED1" -w 5 "$n"
	bgrun_in hB c "$T/c.in" "$PNC" connect "${co[@]}" -m "$MED1" -w 5 "$n"
	wait_tag l 15; rcl=$RC
	wait_tag c 15; rcc=$RC
	show l c
	[ "$rcl" -eq 1 ]
	[ "$rcc" -eq 1 ]
	[ "$(cat "$T/l.err")" = "$AUTHFAIL" ]
	[ "$(cat "$T/c.err")" = "$AUTHFAIL" ]
	[ ! -s "$T/l.out" ]
	[ ! -s "$T/c.out" ]
}

@test "different keys: both exit 1 with the authentication message, no data" {
	echo one >"$T/k1"
	echo two >"$T/k2"
	wrong_pair -K "$T/k1" -- -K "$T/k2"
}

@test "a key on one side only: both exit 1 with the authentication message" {
	echo one >"$T/k1"
	wrong_pair -K "$T/k1" --
}

@test "different keys over -t: both exit 1 with the message (no fall back to UDP)" {
	echo one >"$T/k1"
	echo two >"$T/k2"
	wrong_pair -t -K "$T/k1" -- -t -K "$T/k2"
}

# code_listen TAG INFILE [OPTS...]: listen without a name in hA; waits
# for its code line and sets CODE.
code_listen() {
	local tag=$1 in=$2
	shift 2
	bgrun_in hA "$tag" "$in" "$PNC" listen "$@" -m "$MED1" -w 10
	wait_for 5 grep -q '^pnc: code ' "$T/$tag.err"
	CODE=$(awk '$2 == "code" { print $NF; exit }' "$T/$tag.err")
	[[ $CODE =~ ^[1-9][0-9]*-[a-z]+-[a-z]+-[a-z]+$ ]]
}

@test "codes: listen without a name prints one on one line; connect with it meets, both ways" {
	randfile "$T/da" 100000
	randfile "$T/db" 100000
	code_listen l "$T/da" -v
	[ "$(grep -c '^pnc: code ' "$T/l.err")" -eq 1 ]
	{ cat "$T/db"; wait_for 20 size_ge "$T/c.out" 100000; } |
	    ip netns exec "$LAB-hB" "$PNC" connect -v -m "$MED1" -w 10 \
	    "$CODE" >"$T/c.out" 2>"$T/c.err" 3>&- &
	PIDS[c]=$!
	wait_tag l; rcl=$RC
	wait_tag c; rcc=$RC
	show l c
	[ "$rcl" -eq 0 ]
	[ "$rcc" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/db")" ]
	[ "$(sum "$T/c.out")" = "$(sum "$T/da")" ]
	grep -q "the peer holds our code" "$T/c.err"
	# The mediator saw the nameplate only, never the secret words.
	np=${CODE%%-*} words=${CODE#*-}
	grep -q "registered code-$np role 2" "$BATS_FILE_TMPDIR/med.log"
	! grep -qF -- "$words" "$BATS_FILE_TMPDIR/med.log" || false
	# Nor any one word: in no name it logged, nor anywhere in the log
	# unless pnc's own messages use that word (a code of "from" met the
	# log's "registered ... from 198.51.100.2" once in 4 suite runs).
	for w in ${words//-/ }; do
		! sed -n 's/.*\(introduced\|registered\|relaying\) \([^ :]*\).*/\2/p' \
		    "$BATS_FILE_TMPDIR/med.log" | sed 's/^code-//' |
		    grep -qw -- "$w" || false
		prose "$w" || ! grep -qw -- "$w" "$BATS_FILE_TMPDIR/med.log" || false
	done
}

# prose WORD: WORD is a word of pnc's own messages (a string literal of
# its sources other than crypto.c, which holds the code words).
prose() {
	local f
	for f in "$BATS_TEST_DIRNAME"/../*.c; do
		[[ $f == */crypto.c ]] || grep -ho '"[^"]*"' "$f"
	done | tr -c 'a-z' '\n' | grep -qx -- "$1"
}

# other_code CODE: CODE with its last word replaced by another of the
# list (its first or second word), so that it parses as a code.
other_code() {
	local w1 w2 w3
	IFS=- read -r _ w1 w2 w3 <<<"$1"
	[ "$w1" != "$w3" ] || w1=$w2
	echo "${1%-*}-$w1"
}

@test "a wrong code: both exit 1 with the authentication message, no data" {
	echo "listener's data" >"$T/l.in"
	echo "connector's data" >"$T/c.in"
	code_listen l "$T/l.in"
	bgrun_in hB c "$T/c.in" "$PNC" connect -m "$MED1" -w 5 \
	    "$(other_code "$CODE")"
	wait_tag l 15; rcl=$RC
	wait_tag c 15; rcc=$RC
	show l c
	[ "$rcl" -eq 1 ]
	[ "$rcc" -eq 1 ]
	[ "$(grep -v '^pnc: code ' "$T/l.err")" = "$AUTHFAIL" ]
	[ "$(cat "$T/c.err")" = "$AUTHFAIL" ]
	[ ! -s "$T/l.out" ]
	[ ! -s "$T/c.out" ]
}

@test "a code is single-use: listen -k exits 1 at the first wrong guess, and takes no second" {
	echo "listener's data" >"$T/l.in"
	code_listen l "$T/l.in" -k
	bgrun hB c1 "$PNC" connect -d -m "$MED1" -w 5 "$(other_code "$CODE")"
	wait_tag c1 15; [ "$RC" -eq 1 ]
	wait_tag l 15; rcl=$RC
	show l c1
	[ "$rcl" -eq 1 ]
	grep -qF "$AUTHFAIL" "$T/l.err"
	# The right code now finds nobody.
	bgrun hB c2 "$PNC" connect -d -m "$MED1" -w 2 "$CODE"
	wait_tag c2 10
	show c2
	[ "$RC" -eq 1 ]
	grep -q "no peer came" "$T/c2.err"
	[ ! -s "$T/c2.out" ]
}

@test "punch runs the handshake: the same name meets, different keys fail both" {
	n=$(uname_)
	bgrun hA a "$PNC" punch -v -m "$MED1" -w 5 "$n"
	bgrun hB b "$PNC" punch -v -m "$MED1" -w 5 "$n"
	wait_tag a 10; rca=$RC
	wait_tag b 10; rcb=$RC
	show a b
	[ "$rca" -eq 0 ]
	[ "$rcb" -eq 0 ]
	[[ "$(cat "$T/a.out")" =~ ^[0-9]+\ [0-9.]+\ [0-9]+$ ]]
	grep -q "handshake done" "$T/a.err"
	grep -q "handshake done" "$T/b.err"
	n=$(uname_)
	echo one >"$T/k1"
	echo two >"$T/k2"
	bgrun hA a "$PNC" punch -K "$T/k1" -m "$MED1" -w 5 "$n"
	bgrun hB b "$PNC" punch -K "$T/k2" -m "$MED1" -w 5 "$n"
	wait_tag a 10; rca=$RC
	wait_tag b 10; rcb=$RC
	show a b
	[ "$rca" -eq 1 ]
	[ "$rcb" -eq 1 ]
	[ ! -s "$T/a.out" ]
	[ ! -s "$T/b.out" ]
	[ "$(cat "$T/a.err")" = "$AUTHFAIL" ]
	[ "$(cat "$T/b.err")" = "$AUTHFAIL" ]
}

@test "a version-2 mediator: exit 1, version mismatch" {
	# A stand-in for a v2 mediator on core: it answers every REGISTER
	# with T_ERROR E_VERSION in a version-2 header and the sender's id,
	# as pnc 0.1's mediator did.
	lab_bg core "$T/v2.log" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("'"$MED1"'", 7400))
while True:
    b, a = s.recvfrom(2048)
    if len(b) >= 12 and b[:2] == b"PN":
        t = b"mediator speaks pnc protocol version 2"
        s.sendto(b"PN\x02\x05" + b[4:12] + bytes([1, len(t)]) + t, a)
'
	wait_udp_port core 7400
	run lab_exec hA "$PNC" connect -m "$MED1:7400" -w 3 "$(uname_)"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"version mismatch"* ]]
	[ "$(wc -l <<<"$output")" -eq 1 ]
}

@test "-w before the peer's end of input: exit 1, saying so; the peer's end: exit 0" {
	n=$(uname_)
	mkfifo "$T/fifo"
	exec 5<>"$T/fifo"
	bgrun_in hA l /dev/null "$PNC" listen -d -m "$MED1" "$n"
	# The connector's input stays open: the listener sends nothing (-d).
	run lab_exec hB "$PNC" connect -w 1 -m "$MED1" "$n" <"$T/fifo"
	exec 5>&-
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"before the peer's end of input"* ]]
}

@test "relayed (both NATs symmetric, mediate -r): the handshake and records end to end, checksums equal" {
	lab_down
	lab_up --nat-a symmetric --nat-b symmetric >/dev/null
	lab_bg core "$T/med.log" "$PNC" mediate -v -r -b 20000000 -s "$MED1" \
	    -s "$MED2"
	wait_udp_port core "$MPORT"
	printf 'k3y\n' >"$T/k"
	for mode in "" -R; do
		n=$(uname_)
		randfile "$T/f" 120000
		# shellcheck disable=SC2086
		bgrun_in hA l /dev/null "$PNC" listen -v $mode -K "$T/k" \
		    -m "$MED1" -w 20 "$n"
		# paced: plain datagrams have no congestion control (nc -u)
		# shellcheck disable=SC2086
		bgrun hB c sh -c "for i in 0 1 2 3 4 5 6 7 8 9; do dd if=$T/f bs=12000 skip=\$i count=1 2>/dev/null; sleep 0.05; done | $PNC connect -v $mode -K $T/k -m $MED1 -w 20 $n"
		wait_tag c 40; rcc=$RC
		wait_tag l 40; rcl=$RC
		show l c
		[ "$rcc" -eq 0 ]
		[ "$rcl" -eq 0 ]
		grep -q 'the session is relayed by the mediator' "$T/l.err"
		grep -q 'handshake done: the peer holds our name and key' \
		    "$T/l.err"
		[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
		grep -q "dropped: 0 forged, 0 replayed, 0 too old" "$T/l.err"
		grep -q "relaying $n" "$T/med.log"
	done
}
