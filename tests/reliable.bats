#!/usr/bin/env bats
#
# Reliable mode (-R) through the real-NAT lab, with nftables loss
# between the sides.

load helpers

setup_file() {
	lab_up
	start_mediator
}

teardown_file() {
	lab_down
}

teardown() {
	lab_loss 0
}

# both_ways MB NAME: MB of random data each way at once, -R; checksums.
both_ways() {
	local mb=$1 n=$2
	randfile "$T/da" $((mb * 1000000))
	randfile "$T/db" $((mb * 1000000))
	bgrun_in hA l "$T/da" "$PNC" listen -R -v -m "$MED1" -w 10 "$n"
	bgrun_in hB c "$T/db" "$PNC" connect -R -v -m "$MED1" -w 10 "$n"
	wait_tag l 300; rl=$RC
	wait_tag c 300; rc=$RC
	show l c | grep -v '\] peer candidate'
	[ "$rl" -eq 0 ]
	[ "$rc" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/db")" ]
	[ "$(sum "$T/c.out")" = "$(sum "$T/da")" ]
}

@test "-R: 50 MB each way at once, no loss, checksums equal" {
	both_ways 50 r0
}

@test "-R: 50 MB each way at once, 5% loss, checksums equal" {
	lab_loss 5
	both_ways 50 r5
	echo "# dropped by the lab: $(lab_loss_dropped)" >&3
	[ "$(lab_loss_dropped)" -gt 1000 ]
}

@test "-R: 50 MB each way at once, 20% loss, checksums equal" {
	lab_loss 20
	both_ways 50 r20
	[ "$(lab_loss_dropped)" -gt 1000 ]
}

@test "-R: a slow reader stalls the writer; its memory grows < 6 MB" {
	# the base: an idle pnc of this very build (ASan ones start larger)
	bgrun hB idle "$PNC" listen -R -v -m "$MED1" -w 5 "idle$RANDOM"
	wait_for 5 grep -q registered "$T/idle.err"
	base=$(awk '/VmRSS/ {print $2}' "/proc/${PIDS[idle]}/status")
	kill "${PIDS[idle]}"
	randfile "$T/f" 20000000
	bgrun_in hB c "$T/f" "$PNC" connect -R -m "$MED1" -w 10 slow1
	# a consumer that takes 64 kB every 10 ms (6.4 MB/s at most)
	ip netns exec "$LAB-hA" "$PNC" listen -R -m "$MED1" slow1 </dev/null \
	    2>"$T/l.err" 3>&- | {
		while head -c 65536 >"$T/chunk" && [ -s "$T/chunk" ]; do
			cat "$T/chunk" >>"$T/l.out"
			sleep 0.01
		done
	} &
	PIDS[l]=$!
	peak=0
	while kill -0 "${PIDS[c]}" 2>/dev/null; do
		# The sender may exit between kill -0 and the read.
		kb=$(awk '/VmRSS/ {print $2}' "/proc/${PIDS[c]}/status" \
		    2>/dev/null || true)
		kb=${kb:-0}
		((kb > peak)) && peak=$kb
		sleep 0.02
	done
	wait_tag c 5; rc=$RC
	wait_tag l 60; rl=$RC
	echo "# sender's VmRSS: $base kB at start, $peak kB at peak" >&3
	show l c
	[ "$rc" -eq 0 ]
	[ "$rl" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	# the bound: 2 x 1024 packets of 1.2 kB, and stdio; at most 6 MB
	# more than at start (ASan builds start larger, grow the same)
	[ "$base" -gt 0 ]
	[ $((peak - base)) -lt 6144 ]
}

@test "-R: the peer killed mid-transfer; exit 1 saying what was not confirmed" {
	randfile "$T/f" 50000000
	mkfifo "$T/slow"
	export PNC_KEEPALIVE=0.25
	ip netns exec "$LAB-hA" "$PNC" listen -R \
	    -m "$MED1" kill2 </dev/null >"$T/slow" 2>"$T/l.err" 3>&- &
	PIDS[l]=$!
	bgrun_in hB c "$T/f" "$PNC" connect -R -m "$MED1" \
	    -w 10 kill2
	# nobody reads the listener's stdout: the transfer stalls mid-way
	exec 4<>"$T/slow"
	head -c 100000 <&4 >/dev/null
	kill -9 "${PIDS[l]}"
	exec 4<&-
	wait_tag c 10
	show c
	[ "$RC" -eq 1 ]
	grep -Eq "peer silent for [0-9]+ s; [0-9]+ byte\(s\) sent were not confirmed" "$T/c.err"
}

@test "-R on one side only: both report the mismatch, exit 1" {
	bgrun_in hA l /dev/null "$PNC" listen -R -m "$MED1" -w 5 mm1
	bgrun_in hB c /dev/null "$PNC" connect -m "$MED1" -w 5 mm1
	wait_tag l 10; rl=$RC
	wait_tag c 10; rc=$RC
	show l c
	[ "$rl" -eq 1 ]
	[ "$rc" -eq 1 ]
	grep -q "we use -R (reliable mode) and the peer does not" "$T/l.err"
	grep -q "the peer uses -R (reliable mode) and we do not" "$T/c.err"
}

@test "-R: tar c dir | pnc connect -R; pnc listen -dR | tar x" {
	mkdir -p "$T/src/d" "$T/dst"
	randfile "$T/src/d/a" 700000
	randfile "$T/src/d/b" 3000
	(cd "$T/dst" && ip netns exec "$LAB-hA" "$PNC" listen -dR -m "$MED1" \
	    -w 10 tar1 </dev/null 2>"$T/l.err" 3>&- | tar x) &
	PIDS[l]=$!
	(cd "$T/src" && tar c d | ip netns exec "$LAB-hB" "$PNC" connect -R \
	    -m "$MED1" -w 10 tar1 2>"$T/c.err" 3>&-) &
	PIDS[c]=$!
	wait_tag c 30; rc=$RC
	wait_tag l 30; rl=$RC
	show l c
	[ "$rc" -eq 0 ]
	[ "$rl" -eq 0 ]
	[ "$(sum "$T/dst/d/a")" = "$(sum "$T/src/d/a")" ]
	[ "$(sum "$T/dst/d/b")" = "$(sum "$T/src/d/b")" ]
}
