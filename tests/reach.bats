#!/usr/bin/env bats
#
# Reach (issue 18): how soon a punch pair exits, port mapping (PCP,
# NAT-PMP) with miniupnpd on a home router. Issue 16's client bound
# (a hostile mediator) is in tests/hostile-client.bats.

load helpers

bats_require_minimum_version 1.5.0

teardown() {
	lab_down
}

# timed_punch NODE TAG NAME [ARGS...]: pnc punch in NODE, in the
# background; $T/TAG.t gets "RESULT <time> <line>" when the result line
# comes out of its stdout and "EXIT <status> <time>" when it exits
# (times in seconds, EPOCHREALTIME).
timed_punch() {
	local node=$1 tag=$2 name=$3
	shift 3
	# shellcheck disable=SC2016 # the inner bash expands these
	ip netns exec "$LAB-$node" bash -c '
		{ "$0" punch "$@"; echo "EXIT $? $EPOCHREALTIME"; } |
		while read -r l; do
			case $l in EXIT*) echo "$l" ;;
			*) echo "RESULT $EPOCHREALTIME $l" ;; esac
		done' "$PNC" -m "$MED1" -w 20 "$@" "$name" >"$T/$tag.t" \
	    2>"$T/$tag.err" 3>&- &
	PIDS[$tag]=$!
}

# delay_ms TAG: ms from the result line to the exit, or "fail".
delay_ms() {
	awk '$1 == "RESULT" { r = $2 } $1 == "EXIT" { e = $3; rc = $2 }
	    END { if (r == "" || rc != 0) print "fail";
	    else printf "%.1f\n", (e - r) * 1000 }' "$T/$1.t"
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# pairs N: N punch pairs hA-hB; $T/delays.a, .b: each side's delays;
# $T/delays.pair: the later side's, pair by pair.
pairs() {
	local i d
	: >"$T/delays.a"
	: >"$T/delays.b"
	: >"$T/delays.pair"
	for i in $(seq "$1"); do
		local n=e$i-$RANDOM
		timed_punch hA a "$n"
		timed_punch hB b "$n"
		wait_tag a 25
		wait_tag b 25
		for d in a b; do
			delay_ms "$d" >>"$T/delays.$d"
		done
		paste -d' ' <(tail -1 "$T/delays.a") <(tail -1 "$T/delays.b") |
		    awk '/fail/ { print "fail"; next }
		    { print ($1 > $2 ? $1 : $2) }' >>"$T/delays.pair"
	done
}

@test "exit at once: both sides exit within a few ms of the result line (median of 20)" {
	lab
	pairs 20
	m=$(median <"$T/delays.pair")
	echo "# ms from result line to exit, A: $(paste -sd' ' "$T/delays.a")" >&3
	echo "# B: $(paste -sd' ' "$T/delays.b"); median of the later side: $m" >&3
	! grep -q fail "$T/delays.a" "$T/delays.b"
	# before the release, the controlled side lingered 150 ms: median 150
	awk -v m="$m" 'BEGIN { exit !(m < 10) }'
}

@test "exit at once under 30% loss: 10 of 10, the linger still covers a lost release" {
	lab
	lab_loss 30
	pairs 10
	echo "# A: $(paste -sd' ' "$T/delays.a"); B: $(paste -sd' ' "$T/delays.b")" >&3
	! grep -q fail "$T/delays.a" "$T/delays.b"
	[ "$(wc -l <"$T/delays.a")" -eq 10 ]
	[ "$(wc -l <"$T/delays.b")" -eq 10 ]
	# the lost packets were real
	[ "$(lab_loss_dropped)" -gt 0 ]
}
