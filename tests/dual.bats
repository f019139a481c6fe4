#!/usr/bin/env bats
#
# Both families at once (issue 18, point 5). The lab is built with
# --ipv6: IPv4 through the home NATs rA and rB, IPv6 without NAT through
# their stateful firewalls, and one wildcard mediator on core answering
# at MED1 and MED6_1. The name med.lab resolves to both in hA's and hB's
# namespaces (ip netns exec bind-mounts /etc/netns/NS/hosts). Then one
# family between the peers is dropped, or missing on one side, and the
# pair must take the other; with both open it takes IPv6 and says so.
#
# Controls: main's client at BASE (one family, picked by the mediator
# name's first address) fails where a family it picked is blocked; and
# -4, -6 still force one family.

load helpers

BASE=6880194	# main before both families at once

setup_file() {
	export OLD=$BATS_FILE_TMPDIR/old/pnc
	mkdir -p "$BATS_FILE_TMPDIR/old"
	git -C "$BATS_TEST_DIRNAME/.." archive "$BASE" |
	    tar -x -C "$BATS_FILE_TMPDIR/old"
	make -C "$BATS_FILE_TMPDIR/old" pnc >/dev/null 2>&1
	lab_up --ipv6
	start_mediator
}

teardown_file() {
	lab_down
}

# Each test leaves the lab as it found it: no drop rules, no conntrack
# state, the routes back, no hosts or gai.conf files, no extra mediators.
teardown() {
	local r
	for r in rA rB; do
		lab_exec "$r" nft delete table ip dual4 2>/dev/null || true
		lab_exec "$r" nft delete table ip6 dual6 2>/dev/null || true
		lab_exec "$r" conntrack -F >/dev/null 2>&1 || true
	done
	lab_exec hB ip route replace default via "$RB_LAN" 2>/dev/null || true
	lab_exec hB ip -6 route replace default via "$RB6_LAN" 2>/dev/null || true
	[ -z "${XPIDS[*]-}" ] || kill "${XPIDS[@]}" 2>/dev/null || true
	rm -rf "/etc/netns/$LAB-hA" "/etc/netns/$LAB-hB"
}

# med_lab: med.lab is the mediator's IPv4 and IPv6 address on hA and hB.
med_lab() {
	local h
	for h in hA hB; do
		mkdir -p "/etc/netns/$LAB-$h"
		printf '%s med.lab\n%s med.lab\n' "$MED1" "$MED6_1" \
		    >"/etc/netns/$LAB-$h/hosts"
	done
}

# v4_first: getaddrinfo on hA and hB puts IPv4 addresses first (RFC 6724
# precedence), so that a one-family client picks IPv4 from med.lab.
v4_first() {
	local h
	for h in hA hB; do
		mkdir -p "/etc/netns/$LAB-$h"
		printf 'precedence ::1/128 50\nprecedence ::/0 40\nprecedence 2002::/16 30\nprecedence ::/96 20\nprecedence ::ffff:0:0/96 100\n' \
		    >"/etc/netns/$LAB-$h/gai.conf"
	done
}

# drop4, drop6: rA drops every IPv4 (IPv6) datagram from side B's host
# toward its LAN, and rB every one from side A's: the peers' path in that
# family is gone, the mediator's is not.
drop4() {
	lab_exec rA nft -f - <<-EOF
		table ip dual4 {
			chain fw { type filter hook forward priority -10; ip saddr $WAN_B drop; }
		}
	EOF
	lab_exec rB nft -f - <<-EOF
		table ip dual4 {
			chain fw { type filter hook forward priority -10; ip saddr $WAN_A drop; }
		}
	EOF
}

drop6() {
	lab_exec rA nft -f - <<-EOF
		table ip6 dual6 {
			chain fw { type filter hook forward priority -10; ip6 saddr $HB6 drop; }
		}
	EOF
	lab_exec rB nft -f - <<-EOF
		table ip6 dual6 {
			chain fw { type filter hook forward priority -10; ip6 saddr $HA6 drop; }
		}
	EOF
}

# pair BIN NAME ARGS...: BIN punch on hA and hB; $RCA, $RCB, and each
# side's "LOCALPORT PEERADDR PEERPORT" in $T/a.out, $T/b.out.
pair() {
	local bin=$1 n=$2
	shift 2
	bgrun hA a "$bin" punch -w 5 "$@" "$n"
	bgrun hB b "$bin" punch -w 5 "$@" "$n"
	wait_tag a; RCA=$RC
	wait_tag b; RCB=$RC
	show a b
	cat "$T/a.out" "$T/b.out"
}

# session NAME ARGS...: listen on hA, connect on hB with 1 MB, -v;
# $RCL, $RCC; the received bytes in $T/l.out.
session() {
	local n=$1
	shift
	randfile "$T/f" 1000000
	bgrun_in hA l /dev/null "$PNC" listen -v -w 10 "$@" "$n"
	bgrun_in hB c "$T/f" "$PNC" connect -v -w 10 "$@" "$n"
	wait_tag c; RCC=$RC
	wait_tag l; RCL=$RC
	show l c
}

@test "both families open: the pair meets over IPv6 and says so; listen/connect carry 1 MB" {
	med_lab
	n=$(uname_)
	pair "$PNC" "$n" -m med.lab
	[ "$RCA" -eq 0 ]
	[ "$RCB" -eq 0 ]
	read -r _ pa _ <"$T/a.out"
	read -r _ pb _ <"$T/b.out"
	[ "$pa" = "$HB6" ]
	[ "$pb" = "$HA6" ]
	session "$n-s" -m med.lab
	[ "$RCL" -eq 0 ]
	[ "$RCC" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	grep -q "punched through to \[$HB6\]:[0-9]* (.*, IPv6)" "$T/l.err"
	grep -q "punched through to \[$HA6\]:[0-9]* (.*, IPv6)" "$T/c.err"
	# each registered over IPv4 and learned the other family too
	grep -q "local port [0-9]* (IPv4 and IPv6)" "$T/l.err"
	grep -q "seen over IPv6 as \[$HA6\]" "$T/l.err"
}

@test "IPv4 between the peers dropped: the session runs over IPv6; -4 and main's client (IPv4 first) fail" {
	med_lab
	v4_first
	drop4
	n=$(uname_)
	session "$n" -m med.lab
	[ "$RCL" -eq 0 ]
	[ "$RCC" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	grep -q "punched through to \[$HB6\]:[0-9]* (.*, IPv6)" "$T/l.err"
	pair "$PNC" "$n-p" -m med.lab
	[ "$RCA" -eq 0 ]
	[ "$RCB" -eq 0 ]
	read -r _ pa _ <"$T/a.out"
	[ "$pa" = "$HB6" ]
	# -4 forces IPv4, which is dropped
	pair "$PNC" "$n-4" -4 -m med.lab
	[ "$RCA" -eq 1 ]
	[ "$RCB" -eq 1 ]
	# the control: main's client takes med.lab's first address, IPv4
	pair "$OLD" "$n-old" -v -m med.lab
	grep -q "mediator $MED1:7321" "$T/a.err"
	[ "$RCA" -eq 1 ]
	[ "$RCB" -eq 1 ]
}

@test "IPv6 between the peers dropped: the pair punches IPv4 through both NATs (and -R runs there); -6 and main's client (IPv6 first) fail" {
	med_lab
	drop6
	n=$(uname_)
	pair "$PNC" "$n" -m med.lab
	[ "$RCA" -eq 0 ]
	[ "$RCB" -eq 0 ]
	read -r _ pa _ <"$T/a.out"
	read -r _ pb _ <"$T/b.out"
	[ "$pa" = "$WAN_B" ]
	[ "$pb" = "$WAN_A" ]
	session "$n-s" -m med.lab
	[ "$RCL" -eq 0 ]
	[ "$RCC" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	grep -q "punched through to $WAN_B:[0-9]* (.*, IPv4)" "$T/l.err"
	# -R over IPv4 from the socket of both families
	session "$n-R" -R -m med.lab
	[ "$RCL" -eq 0 ]
	[ "$RCC" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	grep -q "punched through to $WAN_B:[0-9]* (.*, IPv4)" "$T/l.err"
	pair "$PNC" "$n-6" -6 -m med.lab
	[ "$RCA" -eq 1 ]
	[ "$RCB" -eq 1 ]
	pair "$OLD" "$n-old" -v -m med.lab
	grep -q "mediator \[$MED6_1\]:7321" "$T/a.err"
	[ "$RCA" -eq 1 ]
	[ "$RCB" -eq 1 ]
}

@test "no IPv6 route on one side: IPv4; main's client fails" {
	med_lab
	lab_exec hB ip -6 route del default
	n=$(uname_)
	pair "$PNC" "$n" -m med.lab
	[ "$RCA" -eq 0 ]
	[ "$RCB" -eq 0 ]
	read -r _ pa _ <"$T/a.out"
	[ "$pa" = "$WAN_B" ]
	# hA takes IPv6 (first), hB IPv4 (its only way): no common family
	pair "$OLD" "$n-old" -m med.lab
	[ "$RCA" -eq 1 ]
}

@test "no IPv4 route on one side: it registers over IPv6 and the pair meets there; main's client fails" {
	med_lab
	v4_first
	lab_exec hB ip route del default
	n=$(uname_)
	pair "$PNC" "$n" -v -m med.lab
	[ "$RCA" -eq 0 ]
	[ "$RCB" -eq 0 ]
	read -r _ pa _ <"$T/a.out"
	read -r _ pb _ <"$T/b.out"
	[ "$pa" = "$HB6" ]
	[ "$pb" = "$HA6" ]
	grep -q "mediator answered only at \[$MED6_1\]:7321" "$T/b.err"
	# IPv4 first: main's hA takes IPv4, its hB IPv6 (RFC 6724 skips the
	# unroutable IPv4 address): no common family
	pair "$OLD" "$n-old" -m med.lab
	[ "$RCA" -eq 1 ]
}

@test "a mediator per family (an IPv4 one, an IPv6 one): the pair meets over IPv6 when IPv4 is dropped; main's client refuses the list" {
	lab_bg core "$T/m4.log" "$PNC" mediate -4 -p 7400
	XPIDS=("$LAB_BG_PID")
	lab_bg core "$T/m6.log" "$PNC" mediate -6 -p 7500
	XPIDS+=("$LAB_BG_PID")
	wait_udp_port core 7400
	wait_udp_port core 7500
	drop4
	n=$(uname_)
	pair "$PNC" "$n" -m "$MED1:7400" -m "[$MED6_1]:7500"
	[ "$RCA" -eq 0 ]
	[ "$RCB" -eq 0 ]
	read -r _ pa _ <"$T/a.out"
	read -r _ pb _ <"$T/b.out"
	[ "$pa" = "$HB6" ]
	[ "$pb" = "$HA6" ]
	pair "$OLD" "$n-old" -m "$MED1:7400" -m "[$MED6_1]:7500"
	[ "$RCA" -ne 0 ]
	grep -q "cannot resolve mediator" "$T/a.err"
}

@test "compatibility: main's client (one family) meets a client of both in its own family" {
	med_lab
	n=$(uname_)
	# main's client takes med.lab's first address, IPv6
	bgrun hA a "$PNC" punch -w 5 -m med.lab "$n"
	bgrun hB b "$OLD" punch -w 5 -m med.lab "$n"
	wait_tag a; RCA=$RC
	wait_tag b; RCB=$RC
	show a b
	[ "$RCA" -eq 0 ]
	[ "$RCB" -eq 0 ]
	read -r _ pa _ <"$T/a.out"
	[ "$pa" = "$HB6" ]
	# main's client with -4: IPv4, through both NATs
	bgrun hA a "$PNC" punch -w 5 -m med.lab "$n-4"
	bgrun hB b "$OLD" punch -4 -w 5 -m med.lab "$n-4"
	wait_tag a; RCA=$RC
	wait_tag b; RCB=$RC
	show a b
	[ "$RCA" -eq 0 ]
	[ "$RCB" -eq 0 ]
	read -r _ pa _ <"$T/a.out"
	read -r _ pb _ <"$T/b.out"
	[ "$pa" = "$WAN_B" ]
	[ "$pb" = "$WAN_A" ]
}
