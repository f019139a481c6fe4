#!/usr/bin/env bats
#
# Behaving like nc, through the real-NAT lab (hA and hB behind home
# NATs): listen -k serves one peer after another, -q ends a session a
# while after stdin's end, -w is also the session's idle timeout, -N is
# accepted, and -v reports progress once a second during a transfer.

load helpers

setup_file() {
	lab_up
	start_mediator
}

teardown_file() {
	lab_down
}

# What a test started is gone before the next (the mediator stays).
teardown() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
}

@test "listen -k serves one connector after another; stdout carries both, in order" {
	n=$(uname_)
	randfile "$T/f1" 100000
	randfile "$T/f2" 150000
	bgrun_in hA l /dev/null "$PNC" listen -k -v -m "$MED1" "$n"
	bgrun_in hB c1 "$T/f1" "$PNC" connect -m "$MED1" -w 10 "$n"
	wait_tag c1 15; [ "$RC" -eq 0 ] || { show c1 l; false; }
	# The listener registers again; a second connector meets it.
	wait_for 10 grep -q 'registering again' "$T/l.err"
	bgrun_in hB c2 "$T/f2" "$PNC" connect -m "$MED1" -w 10 "$n"
	wait_tag c2 15; [ "$RC" -eq 0 ] || { show c2 l; false; }
	cat "$T/f1" "$T/f2" >"$T/both"
	wait_for 10 size_ge "$T/l.out" 250000
	kill "${PIDS[l]}"
	[ "$(sum "$T/l.out")" = "$(sum "$T/both")" ]
	# Without -k the listener is gone after one session (as nc -l).
	bgrun_in hA l1 /dev/null "$PNC" listen -m "$MED1" "$n-1"
	bgrun_in hB c3 "$T/f1" "$PNC" connect -m "$MED1" -w 10 "$n-1"
	wait_tag c3 15; [ "$RC" -eq 0 ]
	wait_tag l1 15; [ "$RC" -eq 0 ]
}

# Protocol 3: a session that ends before the peer's authenticated end
# of input may have missed data, so -q (and -w) then exit 1, saying so.
@test "-q SECS ends the session that long after stdin's end, even while the peer still sends (exit 1: before its end)" {
	n=$(uname_)
	# The connector sends without end; the listener's input is empty.
	bgrun hB c sh -c "yes | $PNC connect -m $MED1 -w 10 $n"
	t0=${EPOCHREALTIME/./}
	run lab_exec hA sh -c \
	    "$PNC listen -v -q 1 -m $MED1 -w 10 $n </dev/null >/dev/null"
	t1=${EPOCHREALTIME/./}
	echo "$output" | tail -3
	[ "$status" -eq 1 ]
	[[ "$output" == *"-q: 1000 ms after the end of input; quitting"* ]]
	[[ "$output" == *"-q ended the session before the peer's end of input"* ]]
	echo "# listen -q 1 exited after $(( (t1 - t0) / 1000 )) ms" >&3
	# It ended for -q, a second after its input, not at once.
	[ $(( (t1 - t0) / 1000 )) -ge 1000 ]
	kill "${PIDS[c]}" 2>/dev/null || true
	# -q takes 0 and negative numbers, as nc; garbage is a usage error.
	run "$PNC" connect -q 0 -h
	[ "$status" -eq 0 ]
	run "$PNC" connect -q x -m "$MED1" y
	[ "$status" -eq 2 ]
	[[ "$output" == *"bad -q: x"* ]]
}

@test "-w is the idle timeout of a session: no data for that long ends it, exit 1 before the peer's end of input" {
	n=$(uname_)
	bgrun_in hA l /dev/null "$PNC" listen -d -m "$MED1" "$n"
	# stdin open but silent: a fifo whose writer never writes.
	mkfifo "$T/fifo"
	exec 5<>"$T/fifo"
	run lab_exec hB "$PNC" connect -v -N -w 1 -m "$MED1" "$n" <"$T/fifo"
	exec 5>&-
	echo "$output" | tail -3
	[ "$status" -eq 1 ]
	[[ "$output" == *"-w: no data for 1000 ms; quitting"* ]]
	[[ "$output" == *"before the peer's end of input"* ]]
}

@test "-v prints progress once a second during a transfer" {
	n=$(uname_)
	bgrun_in hA l /dev/null "$PNC" listen -m "$MED1" "$n"
	# 30 chunks of 100 kB, 100 ms apart: a transfer of about 3 s.
	run lab_exec hB sh -c "for i in \$(seq 30); do head -c 100000 /dev/urandom; sleep 0.1; done | $PNC connect -v -m $MED1 -w 10 $n"
	[ "$status" -eq 0 ]
	wait_tag l 15
	[ "$RC" -eq 0 ]
	# The RTT is there when the punch measured one (the side whose
	# probe was answered first). Not a terminal: no time stamp.
	grep -E '^pnc: [0-9.]+ (B|kB|MB) out \([0-9.]+ (B|kB|MB)/s\), [0-9.]+ (B|kB|MB) in \([0-9.]+ (B|kB|MB)/s\)(, rtt [0-9.]+ ms)?$' <<<"$output"
	[ "$(grep -c ' out (' <<<"$output")" -ge 2 ]
	[ "$(stat -c %s "$T/l.out")" -eq 3000000 ]
}

# A reply already in listen's stdin when the connector ends at once
# (stdin /dev/null): "the listener is done when the connector is" must
# not drop it. Before the fix (bd65753) 13 of 100 such replies were
# lost on loopback: the peer's end was handled before stdin was read.
@test "listen sends what its stdin already holds when the connector ends at once (20 of 20)" {
	local i got=0 out
	for i in $(seq 20); do
		n=$(uname_)
		printf 'reply %s\n' "$i" >"$T/r"
		# stdin a file: its bytes are there before listen starts (a
		# pipe's writer could be later than the connector's end)
		ip netns exec "$LAB-hA" "$PNC" listen -m "$MED1" -w 10 "$n" \
		    <"$T/r" >/dev/null 2>"$T/l.err" &
		PIDS[l]=$!
		out=$(ip netns exec "$LAB-hB" "$PNC" connect -m "$MED1" -w 10 \
		    "$n" </dev/null 2>"$T/c.err")
		wait "${PIDS[l]}"
		[ "$out" = "reply $i" ] && got=$((got + 1))
	done
	echo "# $got of 20 replies arrived" >&3
	[ "$got" -eq 20 ]
}

# The same with a pipe whose writer comes late (echo not yet run on a
# loaded machine: make static's demo failed so in CI): an empty pipe
# gets a grace of 1 s at the peer's end. The writer here starts 300 ms
# after listen (the case itself, not a wait for something).
late_reply() {
	local bin=$1 n
	n=$(uname_)
	ip netns exec "$LAB-hA" bash -c "{ sleep 0.3; echo late reply; } |
	    '$bin' listen -m '$MED1' -w 10 '$n'" >/dev/null 2>"$T/l.err" &
	PIDS[l]=$!
	ip netns exec "$LAB-hB" "$PNC" connect -m "$MED1" -w 10 "$n" \
	    </dev/null 2>"$T/c.err"
	wait "${PIDS[l]}"
}

@test "listen's stdin a pipe whose writer comes 300 ms late: the reply still goes (5 of 5); before, none" {
	local i got=0 old=$BATS_FILE_TMPDIR/grace-base
	for i in $(seq 5); do
		[ "$(late_reply "$PNC")" = "late reply" ] && got=$((got + 1))
	done
	echo "# now: $got of 5" >&3
	[ "$got" -eq 5 ]
	mkdir -p "$old"
	git -C "$BATS_TEST_DIRNAME/.." archive e06e71d | tar -x -C "$old"
	make -C "$old" pnc >/dev/null 2>&1
	got=0
	for i in $(seq 3); do
		[ "$(late_reply "$old/pnc")" = "late reply" ] && got=$((got + 1))
	done
	echo "# e06e71d: $got of 3" >&3
	[ "$got" -eq 0 ]
}

# Plain datagrams have no flow control: in UDP GSO messages (runs the
# kernel cuts) a sender outran a receiver as fast as itself, and 22-35%
# of 50 MB were dropped by its socket buffer (make bench, 2026-12-03).
# So they go one a packet (-R, which has flow control, keeps GSO). The
# routers see a GSO message as one packet: rB counts what hB sends. The
# control: a sender that uses GSO (UDP_SEGMENT from python) is counted
# a packet a message there.
@test "plain datagrams go one a packet, not in UDP GSO messages (the control: a GSO sender is seen as bundles)" {
	randfile "$T/f" 2400000		# 2000 datagrams of 1200 bytes
	n=$(uname_)
	local plain=plain$RANDOM gso=gso$RANDOM
	lab_counter rB "$plain" iifname '"lan"' ip daddr "$WAN_A" udp length '>' 1000
	bgrun_in hA l /dev/null "$PNC" listen -m "$MED1" -w 10 "$n"
	bgrun_in hB c "$T/f" "$PNC" connect -m "$MED1" -w 10 "$n"
	wait_tag c 20; [ "$RC" -eq 0 ]
	wait_tag l 20; [ "$RC" -eq 0 ]
	p=$(lab_count rB "$plain")
	echo "# plain: $p packets from hB for 2000 datagrams" >&3
	((p >= 2000))
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	# 10 messages of 10 datagrams of 1200 bytes, UDP_SEGMENT (103)
	lab_counter rB "$gso" iifname '"lan"' ip daddr "$WAN_A" udp dport 9 udp length '>' 1000
	lab_exec hB python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_UDP, 103, 1200)
for i in range(10):
    s.sendto(bytes(12000), (sys.argv[1], 9))
' "$WAN_A"
	p=$(lab_count rB "$gso")
	echo "# GSO control: $p packets from hB for 100 datagrams" >&3
	((p >= 1 && p <= 10))
}
