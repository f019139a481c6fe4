#!/usr/bin/env bats
#
# Reach (issue 18): how soon a punch pair exits, port mapping (PCP,
# NAT-PMP) with miniupnpd on a home router. Issue 16's client bound
# (a hostile mediator) is in tests/scan.bats.

load helpers

bats_require_minimum_version 1.5.0

# The merge-base (322a88e): the control of the port mapping tests, and
# miniupnpd's STUN server (lab.bash).
BASE=$LAB_STUN_BASE
PREV=6880194	# before a mapping granted after the introduction was sent on

setup_file() {
	export OLD=$BATS_FILE_TMPDIR/old/pnc
	lab_build_at "$BASE" "$BATS_FILE_TMPDIR/old"
	export PREVBIN=$BATS_FILE_TMPDIR/prev/pnc
	lab_build_at "$PREV" "$BATS_FILE_TMPDIR/prev"
}

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
	! grep -q fail "$T/delays.a" "$T/delays.b" || false
	# before the release, the controlled side lingered 150 ms: median 150.
	# Under make sanitize, ASan's leak check at exit alone takes 10 to
	# 30 ms (CI of b3699fd: median 22.4): a bound of half the old linger.
	local bound=10
	[[ -z ${ASAN_OPTIONS-} ]] || bound=75
	awk -v m="$m" -v b="$bound" 'BEGIN { exit !(m < b) }'
}

@test "exit at once under 30% loss: 10 of 10, the linger still covers a lost release" {
	lab
	lab_loss 30
	pairs 10
	echo "# A: $(paste -sd' ' "$T/delays.a"); B: $(paste -sd' ' "$T/delays.b")" >&3
	! grep -q fail "$T/delays.a" "$T/delays.b" || false
	[ "$(wc -l <"$T/delays.a")" -eq 10 ]
	[ "$(wc -l <"$T/delays.b")" -eq 10 ]
	# the lost packets were real
	[ "$(lab_loss_dropped)" -gt 0 ]
}

# mapped_lab [MEDIATE_ARGS...]: both NATs symmetric, a mediator on both
# core addresses (with MEDIATE_ARGS), miniupnpd on rA. MEDBIN: the
# mediator's pnc ($PNC; a control's v2 client needs the v2 $OLD).
# miniupnpd's STUN check sends bare requests, which today's mediator
# leaves unanswered (padded STUN only, issue 16): it asks the merge-base
# mediator (lab_stun_server, port LAB_STUN_PORT) instead: $OLD.
mapped_lab() {
	lab_up --nat-a symmetric --nat-b symmetric >/dev/null
	lab_bg core "$T/med.log" "${MEDBIN:-$PNC}" mediate -v -s "$MED1" \
	    -s "$MED2" "$@"
	wait_udp_port core "$MPORT"
	lab_stun_server "$OLD" "$T/stun.log"
	lab_portmap A "$T/upnp"
	lab_portmap_ready "$T/upnp"
}

# pair PNC [ARGS...]: listen on hA, connect on hB with 300 kB; RL, RC.
pair() {
	local bin=$1 n=m$RANDOM
	shift
	randfile "$T/f" 300000
	bgrun_in hA l /dev/null "$bin" listen -v -m "$MED1" -w 10 "$@" "$n"
	bgrun_in hB c "$T/f" "$bin" connect -v -m "$MED1" -w 10 "$@" "$n"
	wait_pair
}

# no_mapping_rules: miniupnpd holds no DNAT rule on rA (for wait_for).
no_mapping_rules() {
	[ "$(mapping_rules)" -eq 0 ]
}

# mapping_rules: miniupnpd's DNAT rules on rA now.
mapping_rules() {
	lab_exec rA nft list chain inet miniupnpd prerouting_miniupnpd |
	    grep -c dnat || true
}

@test "port mapping: both NATs symmetric, miniupnpd (PCP) on rA, no relay: data with equal checksums" {
	mapped_lab
	pair "$PNC"
	show l c
	[ "$RC" -eq 0 ]
	[ "$RL" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	grep -q "PCP mapping: $WAN_A:[0-9]* for 120 s" "$T/l.err"
	grep -q "punched through to $WAN_A:[0-9]* (mapped)" "$T/c.err"
	# deleted at the end of the session
	wait_for 5 no_mapping_rules
	grep -q "PCP: UDP port [0-9]* mapping removed" "$T/upnp/upnp.log"
}

@test "port mapping, control: the merge-base client fails there, both NATs symmetric" {
	MEDBIN=$OLD mapped_lab
	pair "$OLD"
	show l c
	[ "$RC" -eq 1 ]
	[ "$RL" -eq 1 ]
	grep -q "both NATs map endpoint-dependently" "$T/c.err"
}

@test "port mapping with a relaying mediator (-r): the session is direct, not relayed" {
	mapped_lab -r
	pair "$PNC"
	show l c
	[ "$RC" -eq 0 ]
	[ "$RL" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	! grep -q "relayed" "$T/l.err" "$T/c.err" || false
	grep -q "punched through to $WAN_A:[0-9]* (mapped)" "$T/c.err"
}

@test "port mapping with a relaying mediator, control: the merge-base client is relayed" {
	MEDBIN=$OLD mapped_lab -r
	pair "$OLD"
	show l c
	[ "$RC" -eq 0 ]
	grep -q "the session is relayed" "$T/c.err"
}

@test "NAT check: port-mapping pcp behind miniupnpd, none behind a router without it" {
	mapped_lab
	run --separate-stderr lab_exec hA "$PNC" punch -v -m "$MED1"
	echo "$output"; echo "$stderr"
	[ "$status" -eq 0 ]
	[[ $output == *$'\nport-mapping pcp'* ]]
	# the check deletes what it got (miniupnpd may take a moment)
	wait_for 5 no_mapping_rules
	run --separate-stderr lab_exec hB "$PNC" punch -m "$MED1"
	[ "$status" -eq 0 ]
	[[ $output == *$'\nport-mapping none'* ]]
}

@test "NAT-PMP when PCP goes unanswered: port-mapping nat-pmp, and a session through it" {
	mapped_lab
	# PCP (version 2) never reaches miniupnpd; NAT-PMP (version 0) does
	lab_exec rA nft insert rule ip filter in udp dport 5351 @th,64,8 2 drop
	run --separate-stderr lab_exec hA "$PNC" punch -m "$MED1"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *$'\nport-mapping nat-pmp'* ]]
	pair "$PNC"
	show l c
	[ "$RC" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	grep -q "NAT-PMP mapping: $WAN_A:[0-9]*" "$T/l.err"
	wait_for 5 no_mapping_rules
}

# late_pair PNC: a slow gateway. connect (hB) registers first; listen's
# gateway (rA) drops its first NAT-PMP request (PCP never gets through),
# so listen registers and is introduced before its mapping, granted at
# the resend 60 ms later. RL, RC.
late_pair() {
	local bin=$1 n=m$RANDOM
	lab_exec rA nft insert rule ip filter in udp dport 5351 @th,64,8 2 drop
	lab_exec rA nft insert rule ip filter in udp dport 5351 \
	    @th,64,8 0 quota until 31 bytes drop
	randfile "$T/f" 300000
	bgrun_in hB c "$T/f" "$bin" connect -v -m "$MED1" -w 10 "$n"
	wait_for 10 grep -q "waiting for the peer" "$T/c.err"
	bgrun_in hA l /dev/null "$bin" listen -v -m "$MED1" -w 10 "$n"
	wait_pair
}

@test "a mapping granted after the introduction still reaches the peer (a slow gateway)" {
	mapped_lab
	late_pair "$PNC"
	show l c
	grep -q "announcing the mapping after the introduction" "$T/l.err"
	grep -q "the peer announced a port mapping after the introduction" \
	    "$T/c.err"
	[ "$RC" -eq 0 ]
	[ "$RL" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	grep -q "punched through to $WAN_A:[0-9]* (mapped)" "$T/c.err"
	wait_for 5 no_mapping_rules
}

@test "a mapping granted after the introduction, control: before the fix the pair fails" {
	MEDBIN=$PREVBIN mapped_lab
	late_pair "$PREVBIN"
	show l c
	grep -q "NAT-PMP mapping: $WAN_A:[0-9]*" "$T/l.err"
	[ "$RC" -eq 1 ]
	! grep -q "punched through" "$T/c.err" || false
}

# race_pair PNC: a gateway that answers only a resend. rA lets listen's
# port mapping requests through only once its second REGISTER (the one
# with the cookie) has gone by: listen registers and waits, and its
# mapping comes at the requests' resend, 60 ms after the first. connect
# (hB) comes only then. RL, RC.
race_pair() {
	local bin=$1 n=m$RANDOM
	lab_exec rA nft -f - <<-EOF
		table ip race {
			set reg1 { type ipv4_addr; flags dynamic; }
			set reg2 { type ipv4_addr; flags dynamic; }
			chain pre {
				type filter hook prerouting priority -310; policy accept;
				iifname "lan" udp dport $MPORT @th,88,8 1 ip saddr @reg1 add @reg2 { ip saddr }
				iifname "lan" udp dport $MPORT @th,88,8 1 add @reg1 { ip saddr }
				iifname "lan" udp dport 5351 ip saddr != @reg2 drop
			}
		}
	EOF
	randfile "$T/f" 300000
	bgrun_in hA l /dev/null "$bin" listen -v -m "$MED1" -w 10 "$n"
	wait_for 10 grep -q "PCP mapping: $WAN_A:" "$T/l.err"
	bgrun_in hB c "$T/f" "$bin" connect -v -m "$MED1" -w 10 "$n"
	wait_pair
}

# l.err: listen registered and waited, and then its mapping came.
mapped_after_register() {
	local r m
	r=$(grep -n "waiting for the peer" "$T/l.err" | head -1 | cut -d: -f1)
	m=$(grep -n "PCP mapping: $WAN_A:" "$T/l.err" | head -1 | cut -d: -f1)
	[[ -n $r && -n $m ]] && ((r < m))
}

@test "a mapping granted only at a resend (both first requests lost): used by the peer, and deleted at the end" {
	mapped_lab
	race_pair "$PNC"
	show l c
	mapped_after_register
	[ "$RC" -eq 0 ]
	[ "$RL" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	grep -q "punched through to $WAN_A:[0-9]* (mapped)" "$T/c.err"
	wait_for 5 no_mapping_rules
	! grep -q "Unauthorized to remove" "$T/upnp/upnp.log" || false
}

# Before the fix, NAT-PMP's address (asked first at the resend) came a
# moment before PCP's grant, 60 ms after our first request: taken for a
# gateway without PCP, a NAT-PMP request went too, and miniupnpd let it
# replace the PCP mapping; our PCP deletion was then refused, and the
# mapping stayed after the session (its lifetime is 120 s).
@test "a mapping granted only at a resend, control: before the fix (f4d92a5) it outlived the session" {
	local old=$BATS_FILE_TMPDIR/race
	lab_build_at f4d92a5 "$old"
	mapped_lab
	race_pair "$old/pnc"
	show l c
	mapped_after_register
	[ "$RL" -eq 0 ]
	grep -q "port mapping deleted" "$T/l.err"
	wait_for 5 grep -q "Unauthorized to remove PCP mapping" "$T/upnp/upnp.log"
	[ "$(mapping_rules)" -eq 1 ]
}

# Before the fix (e06e71d) the listener asked for the relay at once, its
# gateway not having answered yet, and was relayed with a mapping 60 ms
# on (make sanitize in CI: 66 of 250 datagrams lost through the relay).
@test "a slow gateway and a relaying mediator (-r): the relay waits for the gateway's answer; the session is direct (before: relayed)" {
	mapped_lab -r
	late_pair "$PNC"
	show l c
	[ "$RC" -eq 0 ]
	[ "$RL" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	grep -q "waiting for our gateway's answer before the relay" "$T/l.err"
	! grep -q 'relayed by the mediator' "$T/l.err" || false
	! grep -q 'relayed by the mediator' "$T/c.err" || false
	wait_for 5 no_mapping_rules
	local old=$BATS_FILE_TMPDIR/epwait
	lab_build_at e06e71d "$old"
	late_pair "$old/pnc"
	grep -q 'relayed by the mediator' "$T/l.err"
}

@test "port mapping: renewed while the session lives, at a quarter of a short granted lifetime" {
	# miniupnpd grants PCP mappings of 4 s at most
	LAB_PORTMAP_CONF=$'min_lifetime=1\nmax_lifetime=4' mapped_lab
	n=r$RANDOM
	# a session of 5 s: connect's input comes in two parts, 5 s apart
	bgrun_in hA l /dev/null "$PNC" listen -v -m "$MED1" "$n"
	bgrun hB c bash -c "{ echo a; sleep 5; echo b; } |
	    '$PNC' connect -v -m '$MED1' '$n'"
	wait_tag c 30
	wait_tag l 30
	show l c
	grep -q "PCP mapping: $WAN_A:[0-9]* for 4 s" "$T/l.err"
	port=$(sed -n 's/.*PCP mapping: [0-9.]*:\([0-9]*\) for 4 s.*/\1/p' "$T/l.err")
	# the first request, renewals every second, the two deletions
	n=$(grep -c "PCP request received from $HA:$port" "$T/upnp/upnp.log")
	echo "# $n PCP requests for port $port" >&3
	((n >= 5))
	grep -q "port mapping deleted" "$T/l.err"
	[ "$(cat "$T/l.out")" = "$(printf 'a\nb')" ]
}

@test "PCP and NAT-PMP codecs: RFC layouts, truncations, random input under ASan/UBSan" {
	cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 -g \
	    -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -o "$T/pmap" "$BATS_TEST_DIRNAME/pmap.c" \
	    "$BATS_TEST_DIRNAME/../wire.c" "$BATS_TEST_DIRNAME/../util.c"
	run "$T/pmap"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == "ok "* ]]
}

# recipe_after_syns: both sides send a SYN with TTL 2 from their port to
# the other's public endpoint (each NAT then holds the tuple in
# SYN_SENT, as a punch that never completes would leave it), then the
# article's recipe: nc -l -p 40100 on hA, nc -p 40200 WAN_A 40100 on
# hB. Counts on rA, in SYNACK_IN/OUT/INVALID, what became of nc -l's
# SYN-ACK; hA's nc output in $T/nl.out.
recipe_after_syns() {
	lab_exec rA nft -f - <<-EOF
		table ip probe {
			counter synack_in { }
			counter synack_out { }
			counter invalid { }
			chain pre {
				type filter hook prerouting priority -300; policy accept;
				iifname "lan" tcp sport 40100 tcp flags & (syn | ack) == syn | ack counter name "synack_in"
			}
			chain fw {
				type filter hook forward priority -10; policy accept;
				iifname "lan" tcp sport 40100 ct state invalid counter name "invalid"
			}
			chain post {
				type filter hook postrouting priority 200; policy accept;
				oifname "wan" ip saddr $WAN_A tcp sport 40100 tcp flags & (syn | ack) == syn | ack counter name "synack_out"
			}
		}
	EOF
	lab_exec hA nc -M 2 -w 1 -p 40100 "$WAN_B" 40200 </dev/null || true
	lab_exec hB nc -M 2 -w 1 -p 40200 "$WAN_A" 40100 </dev/null || true
	lab_exec rA conntrack -L -p tcp --orig-port-src 40100 2>/dev/null |
	    grep -q SYN_SENT
	ip netns exec "$LAB-hA" timeout 4 nc -l -p 40100 >"$T/nl.out" 2>&1 3>&- &
	local nl=$!
	wait_for 3 bash -c "ip netns exec '$LAB-hA' ss -Htln | grep -q ':40100 '"
	echo hello | lab_exec hB timeout 3 nc -N -p 40200 "$WAN_A" 40100 || true
	wait "$nl" || true
	SYNACK_IN=$(lab_exec rA nft list counter ip probe synack_in | awk '$1 == "packets" { print $2 }')
	SYNACK_OUT=$(lab_exec rA nft list counter ip probe synack_out | awk '$1 == "packets" { print $2 }')
	INVALID=$(lab_exec rA nft list counter ip probe invalid | awk '$1 == "packets" { print $2 }')
	echo "# SYN-ACKs from nc -l: $SYNACK_IN in at rA, $SYNACK_OUT out translated, $INVALID invalid to conntrack; nc -l got '$(cat "$T/nl.out")'" >&3
}

@test "the article's nc -l recipe cannot pass Linux conntrack after a SYN of ours: nc -l's SYN-ACK falls out of the window" {
	lab_up >/dev/null
	recipe_after_syns
	# the outside SYN got in (the SYN_SENT entry let it), nc -l
	# answered, and conntrack found the SYN-ACK's sequence number far
	# beyond the window of our earlier SYN on that tuple (Linux ISNs
	# advance with the clock: 64 kB of window is about 4 ms), so it
	# is not translated: it leaves with its private source, and dies
	((SYNACK_IN > 0))
	((INVALID > 0))
	((SYNACK_OUT == 0))
	[ ! -s "$T/nl.out" ]
}

@test "... control: with conntrack's window check off on rA (be_liberal), the same recipe connects" {
	lab_up >/dev/null
	lab_exec rA sysctl -qw net.netfilter.nf_conntrack_tcp_be_liberal=1
	recipe_after_syns
	((SYNACK_OUT > 0))
	[ "$(cat "$T/nl.out")" = hello ]
}
