#!/usr/bin/env bats
#
# The command line contract: usage errors exit 2 with a usage line on
# stderr; -h prints usage on stdout and exits 0. No lab needed.

load helpers

# usage_error ARGS...: pnc ARGS must exit 2 with "usage:" on stderr and
# nothing on stdout.
usage_error() {
	run --separate-stderr "$PNC" "$@"
	echo "status=$status stdout=$output stderr=$stderr"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"usage: pnc"* ]]
	[ -z "$output" ]
}

bats_require_minimum_version 1.5.0

@test "no arguments" { usage_error; }
@test "unknown subcommand" {
	usage_error frobnicate
	[[ "$stderr" == *"unknown subcommand: frobnicate"* ]]
}
@test "unknown flag, each subcommand" {
	usage_error mediate -x
	usage_error punch -x -m 127.0.0.1 n
	usage_error listen -x -m 127.0.0.1 n
	usage_error connect -x -m 127.0.0.1 n
}
@test "punch -d is not a flag" { usage_error punch -d -m 127.0.0.1 n; }
@test "bad ports" {
	usage_error punch -p 70000 -m 127.0.0.1 n
	usage_error punch -p abc -m 127.0.0.1 n
	usage_error punch -p -1 -m 127.0.0.1 n
	usage_error listen -p '' -m 127.0.0.1 n
	usage_error mediate -p 0
	usage_error mediate -p 65536
	usage_error punch -m 127.0.0.1:99999 n
	usage_error punch -m 127.0.0.1:x n
}
@test "bad timeouts" {
	usage_error punch -w 0 -m 127.0.0.1 n
	usage_error punch -w -3 -m 127.0.0.1 n
	usage_error punch -w soon -m 127.0.0.1 n
}
@test "missing, extra and bad names" {
	usage_error connect -m 127.0.0.1
	[[ "$stderr" == *"missing name"* ]]
	# (listen without a name draws a code: tests/secure.bats)
	usage_error listen -m 127.0.0.1 a b
	usage_error punch -m 127.0.0.1 a b
	usage_error connect -m 127.0.0.1 a b
	usage_error listen -m 127.0.0.1 "a b"
	usage_error listen -m 127.0.0.1 "$(printf 'x%.0s' $(seq 65))"
	usage_error mediate extra
}
@test "no mediator given" {
	unset PNC_MEDIATOR
	usage_error punch n
	usage_error punch
	[[ "$stderr" == *"PNC_MEDIATOR"* ]]
}
@test "a bad -n for the mediator" {
	usage_error mediate -n 0
	usage_error mediate -n lots
}
@test "-h prints usage on stdout and exits 0" {
	for args in -h help "punch -h" "listen -h" "connect -h" "mediate -h"; do
		run --separate-stderr "$PNC" $args
		[ "$status" -eq 0 ]
		[[ "$output" == *"usage: pnc"* ]]
		[ -z "$stderr" ]
	done
}
@test "a 64-character name is fine and PNC_MEDIATOR is used" {
	name=$(printf 'x%.0s' $(seq 64))
	# port 9 on loopback: nobody answers, so exit 1 (not 2) within -w
	PNC_MEDIATOR=127.0.0.1:9 run "$PNC" punch -w 0.3 "$name"
	[ "$status" -eq 1 ]
	[[ "$output" == *"mediator 127.0.0.1:9 did not answer"* ]]
}
@test "an unresolvable mediator is exit 1, not a usage error" {
	run "$PNC" punch -m no.such.host.invalid -w 0.3 n
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot resolve mediator"* ]]
}

@test "-4 and -6 pick the family: a mediator of the other one does not resolve" {
	run "$PNC" punch -6 -m 127.0.0.1 -w 0.3 n
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot resolve mediator 127.0.0.1"* ]]
	run "$PNC" connect -4 -m '[::1]:7321' -w 0.3 n
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot resolve mediator [::1]:7321"* ]]
}

# host_udp_bound PORT: a UDP socket of this host's namespace has PORT.
host_udp_bound() {
	[ -n "$(ss -Hanu "sport = :$1")" ]
}

@test "two peers and a mediator meet over IPv6 loopback (-6)" {
	[ -e /proc/net/if_inet6 ] || skip "no IPv6 on this machine"
	# This host's own loopback, which other bats files running at the
	# same time share: a port P with P and P + 1 (the mediator's second
	# port) free, and the punches start once the mediator is bound.
	while :; do
		port=$((20000 + RANDOM % 20000))
		[ -z "$(ss -Han "( sport = :$port or sport = :$((port + 1)) )")" ] &&
		    break
	done
	"$PNC" mediate -6 -p "$port" 2>/dev/null 3>&- &
	mp=$!
	wait_for 5 host_udp_bound "$port"
	"$PNC" punch -6 -m "[::1]:$port" -w 5 v6 >"$BATS_TEST_TMPDIR/a" 3>&- &
	ap=$!
	run "$PNC" punch -6 -m "[::1]:$port" -w 5 v6
	wait "$ap"
	rc=$?
	kill "$mp"
	[ "$status" -eq 0 ]
	[ "$rc" -eq 0 ]
	[[ "$output" =~ ^[0-9]+\ ::1\ [0-9]+$ ]]
	[[ "$(cat "$BATS_TEST_TMPDIR/a")" =~ ^[0-9]+\ ::1\ [0-9]+$ ]]
}
