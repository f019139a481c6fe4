#!/usr/bin/env bats
#
# The relay of last resort (mediate -r) through the real-NAT lab: two
# symmetric NATs cannot be punched, so listen/connect go through the
# mediator; its limits, a third host trying to inject, and -K end to end.

load helpers

teardown() {
	lab_down
}

# relay_lab [--public-host] [MEDIATE OPTS...]: both NATs symmetric (and
# the public host hP), a mediator on both core addresses with the options
# given.
relay_lab() {
	local more=
	[[ ${1-} == --public-host ]] && { more=$1; shift; }
	# shellcheck disable=SC2086
	lab_up --nat-a symmetric --nat-b symmetric $more >/dev/null
	lab_bg core "$T/med.log" "$PNC" mediate -v -s "$MED1" -s "$MED2" "$@"
	wait_udp_port core "$MPORT"
}

@test "both NATs symmetric: with mediate -r, 1 MB with -R arrives intact through the relay, and the user is told" {
	relay_lab -r -b 20000000
	n=$(uname_)
	randfile "$T/f" 1000000
	bgrun_in hA l /dev/null "$PNC" listen -R -m "$MED1" -w 20 "$n"
	bgrun_in hB c "$T/f" "$PNC" connect -R -m "$MED1" -w 20 "$n"
	wait_tag c 40; rcc=$RC
	wait_tag l 40; rcl=$RC
	show l c
	[ "$rcc" -eq 0 ]
	[ "$rcl" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	# One line on stderr even without -v, on both sides.
	grep -q 'no direct path to the peer: the session is relayed by the mediator' "$T/l.err"
	grep -q 'no direct path to the peer: the session is relayed by the mediator' "$T/c.err"
	grep -q "relaying $n" "$T/med.log"
}

@test "without -r the failure is as before: exit 1 and the reason; punch says a relay would be offered" {
	relay_lab
	n=$(uname_)
	bgrun_in hA l /dev/null "$PNC" listen -m "$MED1" -w 5 "$n"
	bgrun_in hB c /dev/null "$PNC" connect -m "$MED1" -w 5 "$n"
	wait_tag c 15; rcc=$RC
	wait_tag l 15; rcl=$RC
	[ "$rcc" -eq 1 ]
	[ "$rcl" -eq 1 ]
	grep -q 'both NATs map endpoint-dependently' "$T/c.err"
	run grep -q 'relayed by the mediator' "$T/c.err"
	[ "$status" -eq 1 ]
}

@test "punch does not use the relay, but says that one was offered" {
	relay_lab -r
	n=$(uname_)
	bgrun hA a "$PNC" punch -m "$MED1" -w 4 "$n"
	bgrun hB b "$PNC" punch -m "$MED1" -w 4 "$n"
	wait_tag a 15; rca=$RC
	wait_tag b 15; rcb=$RC
	show a b
	[ "$rca" -eq 1 ]
	[ "$rcb" -eq 1 ]
	grep -q 'the mediator offers a relay (listen and connect use it, punch does not)' "$T/a.err"
	[ ! -s "$T/a.out" ]
}

@test "the relay refuses beyond its session limit (-x 1) with a clear error" {
	relay_lab -r -x 1
	n=$(uname_)
	# The first pair holds the one session: stdin stays open.
	mkfifo "$T/hold"
	exec 5<>"$T/hold"
	bgrun_in hA l1 "$T/hold" "$PNC" listen -m "$MED1" -w 20 "$n-1"
	bgrun_in hB c1 "$T/hold" "$PNC" connect -m "$MED1" -w 20 "$n-1"
	wait_for 15 grep -q 'relayed by the mediator' "$T/c1.err"
	bgrun_in hA l2 /dev/null "$PNC" listen -m "$MED1" -w 6 "$n-2"
	bgrun_in hB c2 /dev/null "$PNC" connect -m "$MED1" -w 6 "$n-2"
	wait_tag c2 20; rc=$RC
	exec 5>&-
	show c2
	[ "$rc" -eq 1 ]
	grep -q 'the relay: relay full: all sessions in use, try later' "$T/c2.err"
}

@test "a third host cannot get bytes into a relayed session; -K is end to end through the relay" {
	relay_lab --public-host -r -b 20000000
	n=$(uname_)
	printf 'k3y\n' >"$T/k"
	randfile "$T/f" 1000000
	# Slow the sender so the spray overlaps the session.
	bgrun_in hA l /dev/null "$PNC" listen -v -R -K "$T/k" -m "$MED1" -w 20 "$n"
	bgrun hB c sh -c "for i in 1 2 3 4 5 6 7 8 9 10; do dd if=$T/f bs=100000 skip=\$((i - 1)) count=1 2>/dev/null; sleep 0.2; done | $PNC connect -v -R -K $T/k -m $MED1 -w 20 $n"
	wait_for 15 grep -q 'relayed by the mediator' "$T/l.err"
	# 200 T_RELAY datagrams from hP with made-up ids, and with garbage
	# inside: one datagram each, whatever the load.
	printf 'PN\003\100\000\000\000\000\000\000\000\001PN\003\040\000\000\000\000\000\000\000\001\000\000\000\000EVILEVIL' >"$T/forged"
	for i in $(seq 200); do cat "$T/forged"; done |
	    send_dgrams hP "$MED1" "$MPORT" "$(stat -c %s "$T/forged")"
	wait_tag c 40; rcc=$RC
	wait_tag l 40; rcl=$RC
	show l c
	[ "$rcc" -eq 0 ]
	[ "$rcl" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	run grep -c EVILEVIL "$T/l.out"
	[ "$output" = "0" ]
	grep -q 'relay: not a relayed endpoint' "$T/med.log"
	# The handshake ran end to end through the relay, with the key: the
	# relay holds neither. The records were checked (-v's counters).
	grep -q 'handshake done: the peer holds our name and key' "$T/l.err"
	grep -q 'dropped: [0-9]* forged, [0-9]* replayed, [0-9]* too old' "$T/l.err"
}

@test "-t falls back to UDP with -R, through the relay: a stream still arrives whole" {
	relay_lab -r -b 20000000
	n=$(uname_)
	randfile "$T/f" 300000
	bgrun_in hA l /dev/null "$PNC" listen -t -m "$MED1" -w 12 "$n"
	bgrun_in hB c "$T/f" "$PNC" connect -t -m "$MED1" -w 12 "$n"
	wait_tag c 40; rcc=$RC
	wait_tag l 40; rcl=$RC
	show l c
	[ "$rcc" -eq 0 ]
	[ "$rcl" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	grep -q 'falling back to UDP with -R (relayed if the mediator relays)' "$T/c.err"
	grep -q 'the session is relayed by the mediator' "$T/c.err"
	# punch -t does not fall back: nc wants a TCP hole.
	bgrun hA a "$PNC" punch -t -m "$MED1" -w 3 "$n-p"
	bgrun hB b "$PNC" punch -t -m "$MED1" -w 3 "$n-p"
	wait_tag a 10; [ "$RC" -eq 1 ]
	wait_tag b 10; [ "$RC" -eq 1 ]
	[ ! -s "$T/a.out" ]
}
