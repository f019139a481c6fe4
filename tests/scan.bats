#!/usr/bin/env bats
#
# A hostile mediator (issue 16, point 5): it chooses whom a client
# probes. tests/evil.c's intro answers every REGISTER with a PEER that
# says "the peer is symmetric" (the birthday spray) at a victim's
# address, with 8 local candidates of its choosing, most of them
# special-purpose addresses. Probes leaving hA are counted in hA's
# output hook, for this tree's pnc and for the merge-base's (control).

load helpers

bats_require_minimum_version 1.5.0

BASE=322a88e	# before the bound

setup_file() {
	export EVIL=$BATS_FILE_TMPDIR/evil OLD=$BATS_FILE_TMPDIR/old/pnc
	cc -O2 -Wall -Wextra -Werror -o "$EVIL" "$BATS_TEST_DIRNAME/evil.c" \
	    "$BATS_TEST_DIRNAME/../crypto.c"
	mkdir -p "$BATS_FILE_TMPDIR/old"
	git -C "$BATS_TEST_DIRNAME/.." archive "$BASE" |
	    tar -x -C "$BATS_FILE_TMPDIR/old"
	make -C "$BATS_FILE_TMPDIR/old" pnc >/dev/null 2>&1
	lab_up --public-host >/dev/null
}

teardown_file() {
	lab_down
}

# Special-purpose addresses among the candidates: multicast (mDNS),
# broadcast, loopback, unspecified, link-local, reserved; then two a
# peer could be at (hC on hA's LAN, core's address toward hP).
CANDS="224.0.0.251:5353 255.255.255.255:9 127.0.0.1:9 0.0.0.0:9
    169.254.1.1:9 240.0.0.1:9 10.1.0.3:9 198.51.100.9:9"

# counters: fresh counters of what leaves hA, except to the mediator.
counters() {
	lab_exec hA nft -f - <<-EOF
		table ip scan
		delete table ip scan
		table ip scan {
			counter total { }
			counter special { }
			counter victim { }
			chain out {
				type filter hook output priority 0; policy accept;
				ip daddr $MED1 accept
				meta l4proto udp counter name "total"
				ip daddr { 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4, 240.0.0.0/4 } counter name "special"
				ip daddr $HP counter name "victim"
			}
		}
	EOF
}

count() {
	lab_exec hA nft list counter ip scan "$1" | awk '$1 == "packets" { print $2 }'
}

# attacked PNC: one punch from hA against evil intro on core; the
# counts in TOTAL, SPECIAL, VICTIM, the punch's status in RC, its
# seconds in SECS.
attacked() {
	local t0 t1
	counters
	# shellcheck disable=SC2086 # the candidates, one argument each
	bgrun core evil "$EVIL" intro "$MED1:$MPORT" "$HP:9" 14 $CANDS
	wait_udp_port core "$MPORT" 5
	t0=${EPOCHREALTIME/./}
	run -1 lab_exec hA "$1" punch -v -m "$MED1" -w 10 x$RANDOM
	t1=${EPOCHREALTIME/./}
	SECS=$(( (t1 - t0) / 1000000 ))
	kill "${PIDS[evil]}" 2>/dev/null || true
	wait_tag evil 20
	TOTAL=$(count total) SPECIAL=$(count special) VICTIM=$(count victim)
	echo "# $2: $TOTAL probes ($VICTIM to the victim, $SPECIAL to special-purpose addresses), exit after ${SECS} s" >&3
	echo "$output" | tail -3
}

@test "hostile mediator: the spray and candidate probing are bounded, nothing to special-purpose addresses" {
	attacked "$PNC" bound
	# spray at most 2048, the 3 probeable candidates once a round for 5 s
	((TOTAL <= 2200))
	((VICTIM <= 2100))
	((SPECIAL == 0))
	# nothing ever answered: the punch stops after 5 s, not at -w 10
	((SECS < 8))
	[[ $output == *"nothing came from the peer in 5 s: stopped probing"* ]]
	[[ $output == *"not a candidate: 224.0.0.251:5353"* ]]
}

@test "hostile mediator, control: the merge-base client sprays and probes anything" {
	attacked "$OLD" control
	((TOTAL > 8000))
	((SPECIAL > 0))
}
