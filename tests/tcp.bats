#!/usr/bin/env bats
#
# TCP hole punching (-t) and TCP-then-UDP (-a) through the real-NAT lab.

load helpers

# Before a full receive buffer was read as the peer's FIN (slow_pair).
PREV=2c8d0cf

setup_file() {
	export PREVBIN=$BATS_FILE_TMPDIR/prev/pnc
	lab_build_at "$PREV" "$BATS_FILE_TMPDIR/prev"
}

teardown() {
	lab_down
}

@test "TCP punch between two home routers: 20 MB each way, checksums equal" {
	lab
	randfile "$T/da" 20000000
	randfile "$T/db" 20000000
	bgrun_in hA l "$T/da" "$PNC" listen -t -v -m "$MED1" -w 10 tcp1
	# as nc -l, the listener stops when the connector's input ends: so
	# that ends only once all of da has arrived
	{ cat "$T/db"; wait_for 60 size_ge "$T/c.out" 20000000; } |
	    ip netns exec "$LAB-hB" "$PNC" connect -t -v -m "$MED1" -w 10 tcp1 \
	    >"$T/c.out" 2>"$T/c.err" 3>&- &
	PIDS[c]=$!
	wait_tag l 90; rl=$RC
	wait_tag c 90; rc=$RC
	show l c
	[ "$rl" -eq 0 ]
	[ "$rc" -eq 0 ]
	grep -q "using TCP" "$T/l.err"
	[ "$(sum "$T/l.out")" = "$(sum "$T/db")" ]
	[ "$(sum "$T/c.out")" = "$(sum "$T/da")" ]
}

@test "TCP half-close: a request and EOF, an answer, both exit 0" {
	lab
	echo "what time is it" >"$T/req"
	# the listener answers once it has the whole request (its EOF)
	ip netns exec "$LAB-hA" bash -c \
	    "'$PNC' listen -t -m '$MED1' -w 10 tcp2 < <(
	        while ! grep -q time '$T/l.out' 2>/dev/null; do sleep 0.02; done
	        echo 'half past'
	    )" >"$T/l.out" 2>"$T/l.err" 3>&- &
	PIDS[l]=$!
	bgrun_in hB c "$T/req" "$PNC" connect -t -m "$MED1" -w 10 tcp2
	wait_tag c 20; rc=$RC
	wait_tag l 20; rl=$RC
	show l c
	[ "$rc" -eq 0 ]
	[ "$rl" -eq 0 ]
	[ "$(cat "$T/l.out")" = "what time is it" ]
	[ "$(cat "$T/c.out")" = "half past" ]
}

@test "punch -t prints the result line; TCP punch 10 of 10" {
	lab
	for i in $(seq 10); do
		bgrun hA a "$PNC" punch -t -m "$MED1" -w 10 "tp$i"
		bgrun hB b "$PNC" punch -t -m "$MED1" -w 10 "tp$i"
		wait_tag a; [ "$RC" -eq 0 ]
		wait_tag b; [ "$RC" -eq 0 ]
		read -r la pa ppa <"$T/a.out"
		read -r lb pb ppb <"$T/b.out"
		[ "$pa" = "$WAN_B" ]
		[ "$pb" = "$WAN_A" ]
		[ "$ppa" = "$lb" ]
		[ "$ppb" = "$la" ]
	done
}

@test "against a symmetric NAT -t fails within -w; -a falls back to UDP" {
	lab --nat-a symmetric
	start=${EPOCHREALTIME/./}
	bgrun hA a "$PNC" punch -t -m "$MED1" -w 3 sym1
	bgrun hB b "$PNC" punch -t -m "$MED1" -w 3 sym1
	wait_tag a 10; ra=$RC
	wait_tag b 10; rb=$RC
	end=${EPOCHREALTIME/./}
	show a b
	[ "$ra" -eq 1 ]
	[ "$rb" -eq 1 ]
	(( end - start < 6000000 ))
	grep -q "TCP: no connection to the peer" "$T/a.err"
	# -a: TCP first, then UDP (birthday method) within the same -w
	randfile "$T/f" 100000
	bgrun_in hA l /dev/null "$PNC" listen -a -v -m "$MED1" -w 15 sym2
	bgrun_in hB c "$T/f" "$PNC" connect -a -v -m "$MED1" -w 15 sym2
	wait_tag c 20; rc=$RC
	wait_tag l 20; rl=$RC
	show l c
	[ "$rc" -eq 0 ]
	[ "$rl" -eq 0 ]
	grep -q "falling back to UDP" "$T/l.err"
	grep -q "using UDP" "$T/l.err"
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
}

@test "-a uses TCP when it works" {
	lab
	echo hello >"$T/f"
	bgrun_in hA l /dev/null "$PNC" listen -a -v -m "$MED1" -w 10 auto1
	bgrun_in hB c "$T/f" "$PNC" connect -a -v -m "$MED1" -w 10 auto1
	wait_tag c; [ "$RC" -eq 0 ]
	wait_tag l; [ "$RC" -eq 0 ]
	grep -q "using TCP" "$T/c.err"
	[ "$(cat "$T/l.out")" = hello ]
}

@test "a TCP peer killed mid-session: the other side exits 1" {
	lab
	mkfifo "$T/ia" "$T/ib"
	ip netns exec "$LAB-hA" "$PNC" listen -t -m "$MED1" kill1 \
	    <>"$T/ia" >"$T/l.out" 2>"$T/l.err" 3>&- &
	PIDS[l]=$!
	PNC_KEEPALIVE=1 ip netns exec "$LAB-hB" "$PNC" connect -t -v \
	    -m "$MED1" kill1 <>"$T/ib" >"$T/c.out" 2>"$T/c.err" 3>&- &
	PIDS[c]=$!
	wait_for 5 grep -q "using TCP" "$T/c.err"
	echo ping >"$T/ia"
	wait_for 5 grep -q ping "$T/c.out"
	# the killed process's kernel closes the connection (FIN, or RST
	# to what we send after): no EOF record came, so exit 1. (The
	# connector may be gone already: then nobody reads ib.)
	kill -9 "${PIDS[l]}"
	timeout 2 sh -c 'echo more >"$1"' sh "$T/ib" || true
	wait_tag c 15
	show c
	[ "$RC" -eq 1 ]
	grep -q "connection to the peer" "$T/c.err"
}


# README "punch -t and plain netcat": after the punch, the listener's NAT
# holds the punched connection's conntrack entry in CLOSE state (pnc
# resets it, so that no TIME_WAIT keeps nc from binding the port); a SYN
# from outside on that tuple counts as reopening it, which conntrack
# does by forgetting the entry, and the SYN is then unsolicited: dropped.
@test "after punch -t, nc -l cannot be reached through Linux conntrack" {
	lab
	bgrun hA a "$PNC" punch -t -m "$MED1" -w 5 ncl
	bgrun hB b "$PNC" punch -t -m "$MED1" -w 5 ncl
	wait_tag a; [ "$RC" -eq 0 ]
	wait_tag b; [ "$RC" -eq 0 ]
	read -r la pa ppa <"$T/a.out"
	read -r lb pb ppb <"$T/b.out"
	ip netns exec "$LAB-hA" timeout 4 nc -l -p "$la" >"$T/nl.out" \
	    2>&1 3>&- &
	nl=$!
	wait_for 3 bash -c "ip netns exec '$LAB-hA' ss -Htln | grep -q ':$la '"
	echo hello >"$T/m"
	run lab_exec hB timeout 3 nc -N -p "$lb" "$pb" "$ppb" <"$T/m"
	wait "$nl" || true
	[ "$status" -ne 0 ]		# the SYN never got an answer
	[ ! -s "$T/nl.out" ]
}

@test "TCP one-way file transfer, listener's stdin empty: all 20 MB arrive" {
	lab
	randfile "$T/f" 20000000
	bgrun_in hA l /dev/null "$PNC" listen -t -m "$MED1" -w 10 oneway
	bgrun_in hB c "$T/f" "$PNC" connect -t -m "$MED1" -w 10 oneway
	wait_tag c 60; rc=$RC
	wait_tag l 60; rl=$RC
	show l c
	[ "$rc" -eq 0 ]
	[ "$rl" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
}

# slow_pair BIN: BIN listen -t sends 8 MB from hA; BIN connect -t on hB
# writes them into a reader that takes at most 16 kB per 2 ms, so that
# connect's buffers are full when the listener's FIN comes. RL, RC.
slow_pair() {
	randfile "$T/f" 8000000
	cat >"$T/slow.py" <<-'EOF'
		import sys, time
		while True:
		    b = sys.stdin.buffer.read1(16384)
		    if not b:
		        break
		    sys.stdout.buffer.write(b)
		    time.sleep(0.002)
	EOF
	bgrun_in hA l "$T/f" "$1" listen -t -v -m "$MED1" -w 10 slow
	# shellcheck disable=SC2016 # the inner bash expands these
	ip netns exec "$LAB-hB" bash -c '"$0" connect -t -v -m "$1" -w 10 \
	    slow </dev/null 2>"$2/c.err" | python3 "$2/slow.py" >"$2/c.out"
	    exit "${PIPESTATUS[0]}"' "$1" "$MED1" "$T" 3>&- &
	PIDS[c]=$!
	wait_pair 60
	show l c
}

@test "TCP into a slow reader: the listener's FIN comes while connect's buffers wait for stdout; all 8 MB arrive" {
	lab
	slow_pair "$PNC"
	[ "$RL" -eq 0 ]
	[ "$RC" -eq 0 ]
	[ "$(sum "$T/c.out")" = "$(sum "$T/f")" ]
	! grep -q "closed before" "$T/c.err" || false
}

@test "TCP into a slow reader, control: 2c8d0cf's connect takes a full buffer for the FIN and loses the tail" {
	lab
	slow_pair "$PREVBIN"
	[ "$RL" -eq 0 ]
	grep -q "connection to the peer closed before the peer's end of input" "$T/c.err"
	[ "$(stat -c %s "$T/c.out")" -lt 8000000 ]
}
