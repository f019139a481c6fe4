#!/usr/bin/env bats
#
# Proves that the lab of lab.bash is made of real NATs that can make a
# connection fail: if these pass, a pnc test that passes in the lab has
# crossed address translation and filtering, not a flat network.
#
# The first tests share the lab that setup_file builds (home NATs on both
# sides, plus the public host); the ones after them rebuild it with the
# flavour they need, so keep that order. lab_down's test comes last.

load lab

setup_file() {
	lab_up --public-host
}

teardown_file() {
	lab_down
}

# Each test leaves no processes, mappings or counters to the next one.
teardown() {
	lab_reset
}

# count_is NODE NAME N: counter NAME in NODE is exactly N.
count_is() {
	[[ $(lab_count "$1" "$2") -eq $3 ]]
}

# passed_plus_dropped_is NODE NAME N: what counter NAME in NODE saw plus what
# lab_loss dropped is N, i.e. every datagram sent has met its fate.
passed_plus_dropped_is() {
	(($(lab_count "$1" "$2") + $(lab_loss_dropped) == $3))
}

# has_mapping ROUTER SRC SPORT: ROUTER's NAT has a UDP flow from SRC:SPORT.
has_mapping() {
	[[ -n $(lab_mapped_port "$@") ]]
}

# The number of lines in a file.
lines() {
	wc -l <"$1"
}

# has_lines FILE N: FILE has exactly N lines.
has_lines() {
	[[ $(lines "$1") -eq $2 ]]
}

@test "masquerade: the mediator sees hA as WAN_A, with its source port" {
	lab_udp_reflector core "$MED1" 5000 "$BATS_TEST_TMPDIR/med"
	run lab_whoami hA "$MED1" 5000 40000
	echo "whoami hA $MED1 5000 40000: status $status, '$output'"
	[ "$status" -eq 0 ]
	[ "$output" = "$WAN_A:40000" ]
	# Exactly what the listener on core saw: one datagram, from WAN_A.
	[ "$(cat "$BATS_TEST_TMPDIR/med")" = "$WAN_A:40000" ]
}

@test "filtering: a reply reaches hA, unsolicited datagrams do not" {
	local t=$BATS_TEST_TMPDIR
	lab_udp_reflector core "$MED1" 5001 "$t/med"
	lab_counter rA at_rA iifname wan udp dport '{ 40002, 40003 }'
	lab_counter hA at_hA udp dport '{ 40002, 40003 }'
	# A listener on hA with no mapping: nothing from outside may reach it.
	lab_bg hA "$t/quiet" socat -u UDP-RECV:40003 STDOUT
	wait_udp_port hA 40003

	lab_udp_client hA "$MED1" 5001 40002 "$t/client"
	wait_for 5 grep -qx "$WAN_A:40002" "$t/client"

	# To the mapped port from another address and from another port of the
	# mediator, and to a port with no mapping at all.
	lab_udp_send core "$WAN_A" 40002 1 "bind=$MED2:5001"
	lab_udp_send core "$WAN_A" 40002 1 "bind=$MED1:5002"
	lab_udp_send core "$WAN_A" 40003 1 "bind=$MED1:5001,reuseaddr"
	wait_for 5 count_is rA at_rA 4

	# A second reply from the mediator takes the same path after them:
	# once it is in, they would have been in too.
	lab_udp_send core "$WAN_A" 40002 1 "bind=$MED1:5001,reuseaddr"
	wait_for 5 grep -qx 0000001 "$t/client"
	[ "$(lab_count hA at_hA)" -eq 2 ]
	[ "$(lines "$t/client")" -eq 2 ]
	[ ! -s "$t/quiet" ]
}

@test "home NAT: one socket keeps one public port for every destination" {
	lab_udp_reflector core "$MED1" 5010 "$BATS_TEST_TMPDIR/med1"
	lab_udp_reflector core "$MED2" 5010 "$BATS_TEST_TMPDIR/med2"
	run lab_whoami hA "$MED1" 5010 40010
	echo "whoami hA $MED1 5010 40010: status $status, '$output'"
	[ "$output" = "$WAN_A:40010" ]
	run lab_whoami hA "$MED2" 5010 40010
	echo "whoami hA $MED2 5010 40010: status $status, '$output'"
	[ "$output" = "$WAN_A:40010" ]
}

@test "TTL 2 from hA opens rA's mapping and dies at core; TTL 64 reaches rB" {
	lab_counter core ttl1 ip saddr "$WAN_A" udp dport 7777 ip ttl 1
	lab_counter core at_core ip saddr "$WAN_A" udp dport 7777
	lab_counter rB at_rB ip saddr "$WAN_A" udp dport 7777

	lab_udp_send hA "$WAN_B" 7777 1 sourceport=40020,ttl=2
	wait_for 5 count_is core ttl1 1
	[ "$(lab_mapped_port rA "$HA" 40020)" = 40020 ]

	# Core dropped the first one when it arrived, before this one was sent.
	lab_udp_send hA "$WAN_B" 7777 1 sourceport=40020
	wait_for 5 count_is rB at_rB 1
	[ "$(lab_count core at_core)" -eq 2 ]
	[ "$(lab_count rB at_rB)" -eq 1 ]
}

@test "same LAN: hA reaches hC privately, not through WAN_A (no hairpin)" {
	local t=$BATS_TEST_TMPDIR
	lab_udp_reflector hC "$HC" 5040 "$t/hc"
	run lab_whoami hA "$HC" 5040 40040
	echo "whoami hA $HC 5040 40040: status $status, '$output'"
	[ "$output" = "$HA:40040" ]

	# hC gets the public endpoint WAN_A:40041 from the mediator ...
	lab_udp_reflector core "$MED1" 5041 "$t/med"
	lab_counter hC at_hC udp dport 40041
	lab_counter rA hairpin iifname lan ip daddr "$WAN_A" udp dport 40041
	lab_udp_client hC "$MED1" 5041 40041 "$t/client"
	wait_for 5 grep -qx "$WAN_A:40041" "$t/client"
	# ... which hA cannot use.
	lab_udp_send hA "$WAN_A" 40041 1
	wait_for 5 count_is rA hairpin 1
	lab_udp_send core "$WAN_A" 40041 1 "bind=$MED1:5041,reuseaddr"
	wait_for 5 grep -qx 0000001 "$t/client"
	[ "$(lab_count hC at_hC)" -eq 2 ]
	[ "$(lines "$t/client")" -eq 2 ]
}

@test "lab_loss 30 drops about 30% forwarded each way, none to the mediator" {
	local t=$BATS_TEST_TMPDIR d1 d2 before
	# Receivers everywhere, so that no ICMP port unreachable crosses core
	# and gets into the count of dropped packets.
	lab_bg hP "$t/p" socat -u UDP-RECV:7000,reuseaddr OPEN:/dev/null
	lab_bg hA "$t/a" socat -u UDP-RECV:7001,reuseaddr OPEN:/dev/null
	lab_bg core "$t/med" socat -u "UDP-RECV:7002,bind=$MED1" STDOUT
	wait_udp_port hP 7000
	wait_udp_port hA 7001
	wait_udp_port core 7002
	lab_counter hP at_hP ip saddr "$WAN_A" udp dport 7000
	lab_counter hA at_hA ip saddr "$HP" udp dport 7001
	lab_loss 30

	lab_udp_send hA "$HP" 7000 200 sourceport=7001,reuseaddr
	wait_for 10 passed_plus_dropped_is hP at_hP 200
	d1=$(lab_loss_dropped)
	echo "A to P: dropped $d1 of 200"
	((d1 >= 20 && d1 <= 120))

	# Back along the same mapping: these are replies to rA.
	lab_udp_send hP "$WAN_A" 7001 200 sourceport=7000,reuseaddr
	wait_for 10 passed_plus_dropped_is hA at_hA $((200 + d1))
	d2=$(($(lab_loss_dropped) - d1))
	echo "P to A: dropped $d2 of 200"
	((d2 >= 20 && d2 <= 120))

	# The mediator lives on core itself: input, not forward.
	lab_udp_send hA "$MED1" 7002 200 sourceport=7003
	wait_for 10 has_lines "$t/med" 200
	[ "$(lab_loss_dropped)" -eq $((d1 + d2)) ]

	# And off again.
	lab_loss 0
	[ "$(lab_loss_dropped)" -eq 0 ]
	before=$(lab_count hP at_hP)
	lab_udp_send hA "$HP" 7000 50 sourceport=7001,reuseaddr
	wait_for 5 count_is hP at_hP $((before + 50))
}

# From here on each test builds the lab it needs.

@test "symmetric NAT: one socket gets a new public port for every destination" {
	lab_up --nat-a symmetric
	lab_udp_reflector core "$MED1" 5010 "$BATS_TEST_TMPDIR/med1"
	lab_udp_reflector core "$MED2" 5010 "$BATS_TEST_TMPDIR/med2"
	local one two
	one=$(lab_whoami hA "$MED1" 5010 40010)
	two=$(lab_whoami hA "$MED2" 5010 40010)
	echo "seen as $one and $two"
	[ "${one%:*}" = "$WAN_A" ]
	[ "${two%:*}" = "$WAN_A" ]
	[ "${one#*:}" != "${two#*:}" ]
}

@test "double NAT: core sees the carrier's address, replies cross both NATs" {
	lab_up --cgnat-a --cgnat-b
	[ "$RA_WAN" = 100.64.1.2 ]
	lab_exec rA ip -o -4 addr show dev wan | grep -qF " $RA_WAN/24 "
	lab_udp_reflector core "$MED1" 5030 "$BATS_TEST_TMPDIR/med"
	run lab_whoami hA "$MED1" 5030 40030
	echo "whoami hA $MED1 5030 40030: status $status, '$output'"
	[ "$output" = "$WAN_A:40030" ]
	run lab_whoami hB "$MED1" 5030 40031
	echo "whoami hB $MED1 5030 40031: status $status, '$output'"
	[ "$output" = "$WAN_B:40031" ]
	[ "$(sort "$BATS_TEST_TMPDIR/med")" = "$(printf '%s\n' "$WAN_A:40030" "$WAN_B:40031")" ]
	# Both layers translated: rA to its 100.64 address, cA to the public one.
	lab_exec rA conntrack -L -p udp --orig-src "$HA" 2>/dev/null |
		grep -F "src=$MED1 dst=$RA_WAN sport=5030 dport=40030"
	lab_exec cA conntrack -L -p udp --orig-src "$RA_WAN" 2>/dev/null |
		grep -F "src=$MED1 dst=$WAN_A sport=5030 dport=40030"
}

@test "strict NAT: replies from the mediator get in, from anyone else not" {
	local t=$BATS_TEST_TMPDIR
	lab_up --nat-a strict --public-host
	lab_udp_reflector core "$MED1" 5050 "$t/med"
	lab_udp_reflector hP "$HP" 5050 "$t/hp"
	lab_counter rA from_hP iifname wan ip saddr "$HP"
	lab_counter hA at_hA udp dport 40051

	lab_udp_client hA "$HP" 5050 40051 "$t/client"
	wait_for 5 grep -qx "$WAN_A:40051" "$t/hp"
	wait_for 5 count_is rA from_hP 1
	# The mediator's answer comes along the same path after hP's.
	run lab_whoami hA "$MED1" 5050 40052
	echo "whoami hA $MED1 5050 40052: status $status, '$output'"
	[ "$output" = "$WAN_A:40052" ]
	[ "$(lab_count hA at_hA)" -eq 0 ]
	[ ! -s "$t/client" ]
}

@test "accept flavour: conntrack clash changes hA's port; a TTL-2 probe avoids it" {
	lab_up --nat-a accept
	# hB probes first, at full TTL: rA accepts the probe and keeps state.
	lab_counter rA probe iifname wan ip saddr "$WAN_B" udp dport 40060
	lab_udp_send hB "$WAN_A" 40060 1 sourceport=40061
	wait_for 5 count_is rA probe 1
	lab_udp_send hA "$WAN_B" 40061 1 sourceport=40060
	wait_for 5 has_mapping rA "$HA" 40060
	echo "hA:40060 left as port $(lab_mapped_port rA "$HA" 40060)"
	[ "$(lab_mapped_port rA "$HA" 40060)" != 40060 ]

	# hB probes first at TTL 2: its probe opens rB and dies at core.
	lab_counter core ttl1 ip saddr "$WAN_B" udp dport 40062 ip ttl 1
	lab_counter hB punched ip saddr "$WAN_A" udp sport 40062 udp dport 40063
	lab_udp_send hB "$WAN_A" 40062 1 sourceport=40063,ttl=2
	wait_for 5 count_is core ttl1 1
	lab_udp_send hA "$WAN_B" 40063 1 sourceport=40062
	wait_for 5 count_is hB punched 1
	[ "$(lab_mapped_port rA "$HA" 40062)" = 40062 ]
}

@test "lab_up refuses unknown options and flavours" {
	run lab_up --nat-a cone
	[ "$status" -eq 2 ]
	run lab_up --bogus
	[ "$status" -eq 2 ]
}

@test "lab_down removes every namespace of the lab and kills what ran there" {
	local pid
	lab_bg core "$BATS_TEST_TMPDIR/log" socat -u UDP-RECV:7100 STDOUT
	pid=$LAB_BG_PID
	wait_udp_port core 7100
	lab_down
	[ -z "$(ip netns list | awk -v p="$LAB-" 'index($1, p) == 1')" ]
	wait_for 5 lab_pid_dead "$pid"
	lab_down
}
