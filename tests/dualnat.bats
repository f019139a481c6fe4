#!/usr/bin/env bats
#
# Both families at once through hard NATs (issue 18, point 5), each
# test on a lab variant of its own, built with --ipv6: a client of both
# families registers over IPv4, so the hard-NAT methods (the birthday
# method, the relay) still work there when IPv6 between the peers is
# dropped, and two symmetric NATs meet over IPv6 when it is open.

load helpers

BASE=6880194	# main before both families at once: the control

setup_file() {
	export OLD=$BATS_FILE_TMPDIR/old/pnc
	mkdir -p "$BATS_FILE_TMPDIR/old"
	git -C "$BATS_TEST_DIRNAME/.." archive "$BASE" |
	    tar -x -C "$BATS_FILE_TMPDIR/old"
	make -C "$BATS_FILE_TMPDIR/old" pnc >/dev/null 2>&1
}

teardown() {
	rm -rf "/etc/netns/$LAB-hA" "/etc/netns/$LAB-hB"
	lab_down
}

# dual_lab [LAB OPTS...] [-- MEDIATE OPTS...]: lab_up --ipv6 with the
# options, a wildcard mediator (both families) on core, and med.lab
# resolving to its IPv4 and IPv6 addresses on hA and hB.
dual_lab() {
	local lab=() h
	while (($#)) && [[ $1 != -- ]]; do lab+=("$1"); shift; done
	(($#)) && shift
	lab_up --ipv6 "${lab[@]}" >/dev/null
	lab_bg core "$T/med.log" "$PNC" mediate -v "$@"
	wait_udp_port core "$MPORT"
	for h in hA hB; do
		mkdir -p "/etc/netns/$LAB-$h"
		printf '%s med.lab\n%s med.lab\n' "$MED1" "$MED6_1" \
		    >"/etc/netns/$LAB-$h/hosts"
	done
}

# drop6: the peers' IPv6 path is gone (rA drops hB's, rB hA's).
drop6() {
	lab_exec rA nft add table ip6 dual6
	lab_exec rA nft add chain ip6 dual6 fw \
	    '{ type filter hook forward priority -10; }'
	lab_exec rA nft add rule ip6 dual6 fw ip6 saddr "$HB6" drop
	lab_exec rB nft add table ip6 dual6
	lab_exec rB nft add chain ip6 dual6 fw \
	    '{ type filter hook forward priority -10; }'
	lab_exec rB nft add rule ip6 dual6 fw ip6 saddr "$HA6" drop
}

@test "one side symmetric, IPv6 dropped: the birthday method meets over IPv4 with a name of both families; at least 4 of 5" {
	dual_lab --nat-b symmetric
	drop6
	ok=0
	for i in 1 2 3 4 5; do
		n=b$i-$RANDOM
		bgrun hA a "$PNC" punch -w 10 -m med.lab "$n"
		bgrun hB b "$PNC" punch -w 10 -m med.lab "$n"
		wait_tag a; ra=$RC
		wait_tag b; rb=$RC
		read -r _ pa _ <"$T/a.out" || true
		read -r _ pb _ <"$T/b.out" || true
		if [ "$ra" -eq 0 ] && [ "$rb" -eq 0 ] && [ "$pa" = "$WAN_B" ] &&
		    [ "$pb" = "$WAN_A" ]; then
			ok=$((ok + 1))
		else
			show a b
		fi
	done
	echo "# $ok/5" >&3
	[ "$ok" -ge 4 ]
	# the control: main's client takes med.lab's first address, IPv6
	n=old-$RANDOM
	bgrun hA a "$OLD" punch -w 5 -m med.lab "$n"
	bgrun hB b "$OLD" punch -w 5 -m med.lab "$n"
	wait_tag a; ra=$RC
	wait_tag b; rb=$RC
	[ "$ra" -eq 1 ]
	[ "$rb" -eq 1 ]
}

# A guard: registered over IPv4, where both NATs are symmetric, the pair
# must not give up after 2 s (or ask for a relay) while IPv6 is open.
@test "both NATs symmetric, IPv6 open: the pair meets over IPv6; -4 fails as two symmetric NATs do" {
	dual_lab --nat-a symmetric --nat-b symmetric
	n=$(uname_)
	bgrun hA a "$PNC" punch -w 10 -m med.lab "$n"
	bgrun hB b "$PNC" punch -w 10 -m med.lab "$n"
	wait_tag a; ra=$RC
	wait_tag b; rb=$RC
	show a b
	[ "$ra" -eq 0 ]
	[ "$rb" -eq 0 ]
	read -r _ pa _ <"$T/a.out"
	[ "$pa" = "$HB6" ]
	bgrun hA a "$PNC" punch -4 -w 10 -m med.lab "$n-4"
	bgrun hB b "$PNC" punch -4 -w 10 -m med.lab "$n-4"
	wait_tag a; ra=$RC
	wait_tag b; rb=$RC
	[ "$ra" -eq 1 ]
	[ "$rb" -eq 1 ]
	grep -q "both NATs map endpoint-dependently" "$T/a.err"
}

# Guards, not changes: main's client passes these too (over IPv6, which
# its name resolves first); a client of both must not lose them.
@test "both NATs symmetric, IPv6 dropped, mediate -r: 1 MB with -R through the relay" {
	dual_lab --nat-a symmetric --nat-b symmetric -- -r -b 20000000
	drop6
	n=$(uname_)
	randfile "$T/f" 1000000
	bgrun_in hA l /dev/null "$PNC" listen -R -m med.lab -w 20 "$n"
	bgrun_in hB c "$T/f" "$PNC" connect -R -m med.lab -w 20 "$n"
	wait_tag c 40; rcc=$RC
	wait_tag l 40; rcl=$RC
	show l c
	[ "$rcc" -eq 0 ]
	[ "$rcl" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	grep -q 'the session is relayed by the mediator' "$T/l.err"
}
