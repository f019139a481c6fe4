#!/usr/bin/env bats
#
# Hard NATs, each test on its own lab variant (tests/lab.bash): conntrack
# clash, symmetric NAT (birthday method), double NAT, a public peer,
# loss, a NAT that drops everything from outside, and the NAT check.
# Trials are counted; times are printed, not asserted (see make bench).

load helpers

teardown() {
	lab_down
}

# trials A B N [W]: N pairs of punch at once between nodes A and B;
# OK = how many pairs both printed a well-formed line and exited 0.
trials() {
	local a=$1 b=$2 n=$3 w=${4:-30} i t0 t1 ms=()
	OK=0
	for i in $(seq "$n"); do
		t0=${EPOCHREALTIME/./}
		local name="tr$i-$RANDOM"
		bgrun "$a" a "$PNC" punch -m "$MED1" -w "$w" "$name"
		bgrun "$b" b "$PNC" punch -m "$MED1" -w "$w" "$name"
		wait_tag a $((w + 5)); local ra=$RC
		wait_tag b $((w + 5)); local rb=$RC
		t1=${EPOCHREALTIME/./}
		if [ "$ra" -eq 0 ] && [ "$rb" -eq 0 ] &&
		    grep -Eq '^[0-9]+ [0-9.]+ [0-9]+$' "$T/a.out" &&
		    grep -Eq '^[0-9]+ [0-9.]+ [0-9]+$' "$T/b.out"; then
			OK=$((OK + 1))
			ms+=($(( (t1 - t0) / 1000 )))
		else
			show a b
		fi
	done
	echo "# $OK/$n ok; ms until both exited: ${ms[*]}" >&3
}

# transfer A B: 300 kB from connect on B to listen on A, checksummed.
transfer() {
	local n=x$RANDOM
	randfile "$T/f" 300000
	bgrun_in "$1" l /dev/null "$PNC" listen -m "$MED1" "$n"
	bgrun_in "$2" c "$T/f" "$PNC" connect -m "$MED1" "$n"
	wait_tag c; local rc=$RC
	wait_tag l; local rl=$RC
	show l c
	[ "$rc" -eq 0 ]
	[ "$rl" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
}

@test "conntrack clash: both routers accept unsolicited input; 20 of 20" {
	lab --nat-a accept --nat-b accept
	trials hA hB 20
	[ "$OK" -eq 20 ]
	transfer hA hB
}

@test "one side symmetric (fully-random masquerade): at least 9 of 10" {
	lab --nat-a symmetric
	trials hA hB 10
	[ "$OK" -ge 9 ]
	transfer hA hB
}

@test "the other side symmetric, other roles: at least 9 of 10" {
	lab --nat-b symmetric
	trials hA hB 10
	[ "$OK" -ge 9 ]
	transfer hB hA
}

@test "both sides symmetric: exit 1 within the timeout, saying why" {
	lab --nat-a symmetric --nat-b symmetric
	n=s$RANDOM
	bgrun hA a "$PNC" punch -m "$MED1" -w 10 "$n"
	bgrun hB b "$PNC" punch -m "$MED1" -w 10 "$n"
	wait_tag a 15; ra=$RC
	wait_tag b 15; rb=$RC
	show a b
	[ "$ra" -eq 1 ]
	[ "$rb" -eq 1 ]
	grep -q "both NATs map endpoint-dependently (symmetric)" "$T/a.err"
	grep -q "both NATs map endpoint-dependently (symmetric)" "$T/b.err"
	[ ! -s "$T/a.out" ]
	[ ! -s "$T/b.out" ]
}

@test "double NAT on both sides (carrier NAT in 100.64/10): 10 of 10" {
	lab --cgnat-a --cgnat-b
	trials hA hB 10
	[ "$OK" -eq 10 ]
	# the peer is seen at the carrier's public address
	read -r _ addr _ <"$T/a.out"
	[ "$addr" = "$WAN_B" ]
	transfer hA hB
}

@test "one peer on a public address, the other NATed: 10 of 10" {
	lab --public-host
	trials hP hB 10
	[ "$OK" -eq 10 ]
	transfer hP hB
	transfer hB hP
}

@test "10% loss between the sides: 10 of 10 within the default timeout" {
	lab
	lab_loss 10
	trials hA hB 10
	[ "$OK" -eq 10 ]
}

@test "30% loss between the sides: 10 of 10 within the default timeout" {
	lab
	lab_loss 30
	trials hA hB 10
	[ "$OK" -eq 10 ]
}

@test "a NAT that drops everything from outside: exit 1 within -w" {
	lab --nat-b strict
	n=x$RANDOM
	start=${EPOCHREALTIME/./}
	bgrun hA a "$PNC" punch -v -m "$MED1" -w 3 "$n"
	bgrun hB b "$PNC" punch -v -m "$MED1" -w 3 "$n"
	wait_tag a 10; ra=$RC
	wait_tag b 10; rb=$RC
	end=${EPOCHREALTIME/./}
	show a b
	[ "$ra" -eq 1 ]
	[ "$rb" -eq 1 ]
	(( end - start < 6000000 ))
	# B hears nothing, A hears B but cannot answer; -v lists the tries
	grep -q "nothing came from it" "$T/b.err"
	grep -q "its probes arrive but our answers do not reach it" "$T/a.err"
	grep -q "candidate $WAN_B:[0-9]* (public): no answer" "$T/a.err"
}

# natcheck NODE: the NAT check's report from NODE, in $T/nc.out
natcheck() {
	run --separate-stderr lab_exec "$1" "$PNC" punch -m "$MED1"
	echo "$output" >"$T/nc.out"
	echo "$output"
	[ "$status" -eq 0 ]
}

bats_require_minimum_version 1.5.0

@test "NAT check behind a home router: endpoint-independent, port kept" {
	lab
	natcheck hA
	grep -qx "nat yes" "$T/nc.out"
	grep -qx "public-address $WAN_A" "$T/nc.out"
	grep -qx "port-preserved yes" "$T/nc.out"
	grep -qx "mapping endpoint-independent" "$T/nc.out"
	grep -qx "filtering address-and-port-dependent" "$T/nc.out"
	grep -qx "hairpin no" "$T/nc.out"
	grep -qx "port-mapping none" "$T/nc.out"
	[ "$(wc -l <"$T/nc.out")" -eq 8 ]
}

@test "NAT check behind fully-random masquerade: endpoint-dependent" {
	lab --nat-a symmetric
	natcheck hA
	grep -qx "mapping endpoint-dependent address-and-port-dependent" "$T/nc.out"
	grep -qx "port-preserved no" "$T/nc.out"
}

@test "NAT check on a public address: no NAT, no filtering" {
	lab --public-host
	natcheck hP
	grep -qx "nat no" "$T/nc.out"
	grep -qx "public-address $HP" "$T/nc.out"
	grep -qx "filtering endpoint-independent" "$T/nc.out"
}

@test "NAT check: an unreachable mediator is exit 1" {
	lab
	run lab_exec hA "$PNC" punch -m 203.0.113.99 -w 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"did not answer"* ]]
}
