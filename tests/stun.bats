#!/usr/bin/env bats
#
# STUN through the real-NAT lab: pnc mediate answers padded requests
# only (no answer larger than its request: tests/stunamp.py pads them,
# and coturn's turnutils_stunclient, whose requests are bare, gets
# nothing), and pnc punch -S (the NAT check) against coturn's turnserver
# on the core router, a tool no one here wrote. Both coturn tools come
# from Debian's coturn package (.ci/run installs it).

load helpers

setup() {
	T=$BATS_TEST_TMPDIR
	command -v turnutils_stunclient >/dev/null ||
	    skip "coturn is not installed (apt-get install coturn)"
}

teardown() {
	lab_down
}

# turnserver on core, STUN only, on both mediator addresses: RFC 5780
# (CHANGE-REQUEST, OTHER-ADDRESS) is on when it has two addresses.
start_turnserver() {
	lab_bg core "$T/turn.log" turnserver -n --no-auth --stun-only \
	    --no-cli --no-tls --no-dtls -L "$MED1" -L "$MED2" -p 3478 \
	    --log-file stdout
	wait_udp_port core 3478 10
	wait_udp_port core 3479 10
}

# A mediator on one address (the wildcard): with two it would announce
# OTHER-ADDRESS, and turnutils_stunclient would go on to RFC 5780's
# padded requests, which are over pnc's 1500-byte limit.
one_mediator() {
	lab_up >/dev/null
	lab_bg core "$T/med.log" "$PNC" mediate -v
	wait_udp_port core "$MPORT"
}

# stunamp NODE: tests/stunamp.py's table from NODE against the mediator.
stunamp() {
	lab_exec "$1" python3 "$BATS_TEST_DIRNAME/stunamp.py" "$MED1" "$MPORT"
}

@test "a padded STUN request through NAT A gets NAT A's address from pnc mediate; turnutils_stunclient's bare one gets nothing" {
	one_mediator
	run stunamp hA
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" =~ "case padded-64 request 64 replies 1 max "[0-9]+" mapped 1 other 0 addr $WAN_A:"[0-9]+ ]]
	# From B, B's address: the answer is per source, not cached.
	run stunamp hB
	[[ "$output" =~ "case padded-64 request 64 replies 1 max "[0-9]+" mapped 1 other 0 addr $WAN_B:"[0-9]+ ]]
	# A bare 20-byte request (its answer would be larger): nothing.
	[[ "$output" == *"case bare request 20 replies 0 "* ]]
	run lab_exec hA timeout 3 turnutils_stunclient -p "$MPORT" "$MED1"
	[[ "$output" != *"UDP reflexive addr"* ]]
}

@test "malformed STUN gets no answer and is counted; the mediator goes on serving" {
	one_mediator
	send() { lab_exec hA socat -t 0.5 - "udp:$MED1:$MPORT"; }
	H='\000\001'		# Binding request
	C='\041\022\244\102'	# magic cookie
	X='abcdefghijkl'	# transaction id
	# length 8 but 4 bytes of attributes
	run send < <(printf "$H\000\010$C$X\200\042\000\000")
	[ -z "$output" ]
	# an attribute a receiver must understand (0x0007) that we do not
	run send < <(printf "$H\000\010$C$X\000\007\000\004abcd")
	[ -z "$output" ]
	# a FINGERPRINT that is wrong
	run send < <(printf "$H\000\010$C$X\200\050\000\004abcd")
	[ -z "$output" ]
	# a Binding success response is not a request
	run send < <(printf "\001\001\000\000$C$X")
	[ -z "$output" ]
	wait_for 5 lines_cmp -eq 4 'malformed or unexpected STUN' "$T/med.log"
	# A well-formed (padded) request from the same place is answered.
	run stunamp hA
	[[ "$output" =~ "case padded-64 request 64 replies 1 max "[0-9]+" mapped 1 other 0 addr $WAN_A:"[0-9]+ ]]
}

@test "punch -S against coturn's turnserver: a home NAT maps independently and filters by address and port" {
	lab
	start_turnserver
	run lab_exec hA "$PNC" punch -S "$MED1"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"nat yes"* ]]
	[[ "$output" == *"public-address $WAN_A"* ]]
	[[ "$output" == *"mapping endpoint-independent"* ]]
	[[ "$output" == *"filtering address-and-port-dependent"* ]]
	# The same against pnc's own mediator: the two checks agree.
	run lab_exec hA "$PNC" punch -m "$MED1"
	[[ "$output" == *"mapping endpoint-independent"* ]]
	[[ "$output" == *"filtering address-and-port-dependent"* ]]
}

@test "punch -S against coturn's turnserver behind a symmetric NAT: endpoint-dependent mapping" {
	lab --nat-a symmetric
	start_turnserver
	run lab_exec hA "$PNC" punch -S "$MED1:3478"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"public-address $WAN_A"* ]]
	[[ "$output" == *"mapping endpoint-dependent"* ]]
	# A host on the core side that answers nothing: exit 1, and says so.
	run lab_exec hA "$PNC" punch -w 1 -S "$MED2:3999"
	[ "$status" -eq 1 ]
	[[ "$output" == *"STUN server $MED2:3999 did not answer"* ]]
}
