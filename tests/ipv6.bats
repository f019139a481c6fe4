#!/usr/bin/env bats
#
# Punching over IPv6 the usual way: no NAT, but a stateful firewall on
# each home router (rA, rB) that lets replies in and drops anything new
# from outside toward the LAN. The lab is built with --ipv6, so IPv4 and
# its NATs are there as well; every pnc here talks IPv6 only, to the
# mediator on core at [2001:db8::1] (a wildcard mediator, which answers
# from the address it was asked on).

load helpers

setup_file() {
	lab_up --ipv6
	start_mediator
}

teardown_file() {
	lab_down
}

# Not lab_reset: that would kill the file's mediator too. The routers
# forget their state, so no test inherits another's open holes.
teardown() {
	local r
	for r in rA rB; do
		lab_exec "$r" conntrack -F >/dev/null 2>&1 || true
	done
	rm -rf "/etc/netns/$LAB-hA" "/etc/netns/$LAB-hB"
}

M6="[$MED6_1]"

# Both sides' result lines: "LOCALPORT PEERADDR PEERPORT", the address
# printed bare (no brackets), as inet_ntop writes it.
@test "punch over IPv6 through two stateful firewalls prints the peer's own address" {
	n=$(uname_)
	bgrun hA a "$PNC" punch -m "$M6" -w 10 "$n"
	bgrun hB b "$PNC" punch -m "$M6" -w 10 "$n"
	wait_tag a; rca=$RC
	wait_tag b; rcb=$RC
	show a b
	cat "$T/a.out" "$T/b.out"
	[ "$rca" -eq 0 ]
	[ "$rcb" -eq 0 ]
	[ "$(wc -l <"$T/a.out")" -eq 1 ]
	[ "$(wc -l <"$T/b.out")" -eq 1 ]
	[[ "$(cat "$T/a.out")" =~ ^[0-9]+\ [0-9a-f:]+\ [0-9]+$ ]]
	[[ "$(cat "$T/b.out")" =~ ^[0-9]+\ [0-9a-f:]+\ [0-9]+$ ]]
	read -r la pa ppa <"$T/a.out"
	read -r lb pb ppb <"$T/b.out"
	# no NAT: each sees the other host itself, on its own local port
	[ "$pa" = "$HB6" ]
	[ "$pb" = "$HA6" ]
	[ "$ppa" = "$lb" ]
	[ "$ppb" = "$la" ]
}

@test "listen/connect carry 1 MB over IPv6 through two stateful firewalls" {
	n=$(uname_)
	randfile "$T/f" 1000000
	bgrun_in hA l /dev/null "$PNC" listen -m "$M6" -w 10 "$n"
	bgrun_in hB c "$T/f" "$PNC" connect -m "$M6" -w 10 "$n"
	wait_tag c; rcc=$RC
	wait_tag l; rcl=$RC
	show l c
	[ "$rcc" -eq 0 ]
	[ "$rcl" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	[ ! -s "$T/c.out" ]
}

@test "two hosts on one IPv6 LAN meet on their own addresses" {
	n=$(uname_)
	bgrun hA a "$PNC" punch -m "$M6" -w 10 "$n"
	bgrun hC b "$PNC" punch -m "$M6" -w 10 "$n"
	wait_tag a; rca=$RC
	wait_tag b; rcb=$RC
	show a b
	[ "$rca" -eq 0 ]
	[ "$rcb" -eq 0 ]
	read -r la pa ppa <"$T/a.out"
	read -r lb pb ppb <"$T/b.out"
	[ "$pa" = "$HC6" ]
	[ "$pb" = "$HA6" ]
	[ "$ppa" = "$lb" ]
	[ "$ppb" = "$la" ]
}

# toha_ge N: rA's counter of what came for hA's port 40000 is at least N.
toha_ge() {
	local n
	n=$(lab_exec rA nft list counter ip6 lab_count6 toha |
	    awk '$1 == "packets" { print $2 }')
	((${n:-0} >= $1))
}

# The control: without it the tests above would pass just as well on an
# open network. rA counts what reaches it for hA's port before its
# firewall, so a drop is told apart from a packet lost elsewhere.
@test "control: rA's IPv6 firewall drops the unsolicited, lets in the answered" {
	lab_exec rA nft -f - <<-EOF
		table ip6 lab_count6 {
			counter toha { }
			chain pre {
				type filter hook prerouting priority -300; policy accept;
				iifname "wan" ip6 daddr $HA6 udp dport 40000 counter name "toha"
			}
		}
	EOF
	# hA listens on 40000 and has sent nothing: hB's datagrams get to rA
	# and no further.
	lab_bg hA "$T/recv" socat -u UDP6-RECV:40000 -
	pid=$LAB_BG_PID
	wait_udp_port hA 40000
	lab_udp_send hB "[$HA6]" 40000 3 sourceport=40001
	wait_for 3 toha_ge 3
	sleep 0.5
	[ ! -s "$T/recv" ]
	kill "$pid"
	wait_for 5 lab_pid_dead "$pid"
	# Now hA sends first from 40000 to hB's 40001: the same datagrams
	# from hB are answers, and come in.
	lab_bg hA "$T/cli" socat "UDP6-SENDTO:[$HB6]:40001,sourceport=40000" \
	    SYSTEM:'echo hello; exec cat >&2'
	wait_udp_port hA 40000
	wait_for 3 lab_exec rA sh -c \
	    'conntrack -L -f ipv6 -p udp --orig-port-src 40000 2>/dev/null | grep -q udp'
	lab_udp_send hB "[$HA6]" 40000 3 sourceport=40001
	wait_for 3 grep -q 0000003 "$T/cli"
	kill "$LAB_BG_PID"
	lab_exec rA nft delete table ip6 lab_count6
	cat "$T/cli"
	[ "$(grep -c '^000000[123]$' "$T/cli")" -eq 3 ]
}

@test "dual stack: a mediator name with both addresses, and both peers with IPv6, meet over IPv6" {
	n=$(uname_)
	# The name med.lab resolves to both of the mediator's addresses in
	# hA's and hB's namespaces (ip netns exec bind-mounts this file).
	for h in hA hB; do
		mkdir -p "/etc/netns/$LAB-$h"
		printf '%s med.lab\n%s med.lab\n' "$MED1" "$MED6_1" \
		    >"/etc/netns/$LAB-$h/hosts"
	done
	bgrun hA a "$PNC" punch -m med.lab -w 10 "$n"
	bgrun hB b "$PNC" punch -m med.lab -w 10 "$n"
	wait_tag a; rca=$RC
	wait_tag b; rcb=$RC
	rm -rf "/etc/netns/$LAB-hA" "/etc/netns/$LAB-hB"
	show a b
	[ "$rca" -eq 0 ]
	[ "$rcb" -eq 0 ]
	read -r _ pa _ <"$T/a.out"
	read -r _ pb _ <"$T/b.out"
	[ "$pa" = "$HB6" ]
	[ "$pb" = "$HA6" ]
	# -4 keeps the same pair on IPv4, through the NATs.
	bgrun hA a "$PNC" punch -4 -m "$MED1" -w 10 "$n-4"
	bgrun hB b "$PNC" punch -4 -m "$MED1" -w 10 "$n-4"
	wait_tag a; [ "$RC" -eq 0 ]
	wait_tag b; [ "$RC" -eq 0 ]
	read -r _ pa _ <"$T/a.out"
	[ "$pa" = "$WAN_B" ]
}
