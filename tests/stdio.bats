#!/usr/bin/env bats
#
# The two ends of a session that are not the network: stdin that fails,
# stdout that takes no more or takes its time, and what -q and -w leave
# behind, in each mode (datagrams, -R, -t), through the lab's home NATs.
# Exit 0 says everything arrived (pnc.1, EXIT STATUS); these tests hold
# pnc to it where 1eee427 said 0 and lost data.

load helpers

bats_require_minimum_version 1.5.0

PREV=1eee427

setup_file() {
	export PREVBIN=$BATS_FILE_TMPDIR/prev/pnc
	lab_build_at "$PREV" "$BATS_FILE_TMPDIR/prev"
}

teardown() {
	lab_down
}

# full BIN MODE: listen -d on hA writes to /dev/full; connect sends 1 MB
# from hB (-w 5: the datagram and -R sender hear nothing more). RL, RC.
full() {
	local n=f$RANDOM
	randfile "$T/f" 1000000
	ip netns exec "$LAB-hA" "$1" listen ${2:+"$2"} -d -m "$MED1" -w 10 "$n" \
	    </dev/null >/dev/full 2>"$T/l.err" 3>&- &
	PIDS[l]=$!
	bgrun_in hB c "$T/f" "$1" connect ${2:+"$2"} -m "$MED1" -w 5 "$n"
	wait_pair
	show l c
}

@test "stdout full (/dev/full): listen exits 1 with the error, in every mode; -t's sender exits 1 too" {
	lab
	for mode in "" -R -t; do
		full "$PNC" "$mode"
		[ "$RL" -eq 1 ]
		grep -q "^pnc: stdout: No space left on device" "$T/l.err"
		if [ "$mode" = -t ]; then [ "$RC" -eq 1 ]; fi
	done
}

@test "stdout full, control: 1eee427's listen discards and exits 0" {
	lab
	for mode in "" -R -t; do
		full "$PREVBIN" "$mode"
		[ "$RL" -eq 0 ]
		! grep -q "stdout" "$T/l.err" || false
	done
}

@test "stdout's reader gone (head -c 1000): listen -R exits 1, stdout: Broken pipe" {
	lab
	randfile "$T/f" 5000000
	# shellcheck disable=SC2016 # the inner bash expands these
	ip netns exec "$LAB-hA" bash -c '"$0" listen -R -d -m "$1" -w 10 \
	    gone </dev/null 2>"$2/l.err" | head -c 1000 >"$2/l.out"
	    exit "${PIPESTATUS[0]}"' "$PNC" "$MED1" "$T" 3>&- &
	PIDS[l]=$!
	bgrun_in hB c "$T/f" "$PNC" connect -R -m "$MED1" -w 5 gone
	wait_tag l 30; rl=$RC
	wait_tag c 30
	show l c
	[ "$rl" -eq 1 ]
	grep -q "^pnc: stdout: Broken pipe" "$T/l.err"
	[ "$(stat -c %s "$T/l.out")" -eq 1000 ]
}

# dirin BIN MODE: connect on hB reads a directory (read fails, EISDIR);
# listen -d on hA. RL, RC.
dirin() {
	bgrun_in hA l /dev/null "$1" listen ${2:+"$2"} -d -m "$MED1" -w 5 dirin
	bgrun_in hB c /tmp "$1" connect ${2:+"$2"} -m "$MED1" -w 5 dirin
	wait_pair
	show l c
}

@test "stdin fails (a directory): connect exits 1 with the error and sends no end of input, in every mode" {
	lab
	for mode in "" -R -t; do
		dirin "$PNC" "$mode"
		[ "$RC" -eq 1 ]
		grep -q "^pnc: stdin: Is a directory" "$T/c.err"
		# the peer saw no clean end: never exit 0 (-t: at once)
		[ "$RL" -ne 0 ]
		[ ! -s "$T/l.out" ]
	done
}

@test "stdin fails, control: 1eee427 takes the error for an end of input (-R: both exit 0)" {
	lab
	dirin "$PREVBIN" -R
	[ "$RC" -eq 0 ]
	[ "$RL" -eq 0 ]
}

# qpair BIN: listen -t on hA sends 1 byte; connect -t -q 0 on hB sends
# 10 MB. RL, RC.
qpair() {
	randfile "$T/f" 10000000
	echo x >"$T/x"
	bgrun_in hA l "$T/x" "$1" listen -t -m "$MED1" -w 10 qz
	bgrun_in hB c "$T/f" "$1" connect -t -q 0 -m "$MED1" -w 10 qz
	wait_pair
	show l c
}

@test "-t -q 0 after 10 MB: all of it and the end go out (both exit 0), or connect says what did not (exit 1)" {
	lab
	qpair "$PNC"
	if [ "$RC" -eq 0 ]; then
		[ "$RL" -eq 0 ]
		[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	else
		[ "$RC" -eq 1 ]
		grep -q "ended the session before all we sent went out" \
		    "$T/c.err"
	fi
}

@test "-t -q 0 after 10 MB, control: 1eee427's connect exits 0, its stream cut (listen exits 1)" {
	lab
	qpair "$PREVBIN"
	[ "$RC" -eq 0 ]
	[ "$RL" -eq 1 ]
}

# paused BIN: connect -t on hB sends 20 MB to listen -t on hA, whose
# reader stops for 3 s after 100 kB: 6 keepalives at PNC_KEEPALIVE=0.5.
# RL, RC.
paused() {
	randfile "$T/f" 20000000
	cat >"$T/pause.py" <<-'EOF'
		import os, sys, time
		out, n, paused = open(sys.argv[1], 'wb'), 0, False
		while True:
		    b = os.read(0, 65536)
		    if not b:
		        break
		    out.write(b)
		    n += len(b)
		    if not paused and n >= 100000:
		        paused = True
		        time.sleep(3)
	EOF
	# shellcheck disable=SC2016 # the inner bash expands these
	PNC_KEEPALIVE=0.5 ip netns exec "$LAB-hA" bash -c '"$0" listen -t -d \
	    -m "$1" -w 10 pz </dev/null 2>"$2/l.err" |
	    python3 "$2/pause.py" "$2/l.out"; exit "${PIPESTATUS[0]}"' \
	    "$1" "$MED1" "$T" 3>&- &
	PIDS[l]=$!
	PNC_KEEPALIVE=0.5 bgrun_in hB c "$T/f" "$1" connect -t -m "$MED1" \
	    -w 10 pz
	wait_pair 60
	show l c
}

@test "-t: a reader that stops for longer than 4 keepalives (a zero window) does not end the session" {
	lab
	paused "$PNC"
	[ "$RC" -eq 0 ]
	[ "$RL" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
}

@test "-t paused reader, control: 1eee427 (TCP_USER_TIMEOUT) resets the connection" {
	lab
	paused "$PREVBIN"
	[ "$RC" -eq 1 ]
	[ "$RL" -eq 1 ]
}

# slowq BIN: listen on hA sends 400 kB of datagrams and ends; connect on
# hB (-w 2) writes into a reader of 1 kB per 50 ms (20 kB/s): 20 s of
# stdout, so -w fires long before it drains. RC.
slowq() {
	randfile "$T/f" 400000
	cat >"$T/slow.py" <<-'EOF'
		import os, sys, time
		out = open(sys.argv[1], 'wb')
		while True:
		    b = os.read(0, 1024)
		    if not b:
		        break
		    out.write(b)
		    time.sleep(0.05)
	EOF
	bgrun_in hA l "$T/f" "$1" listen -m "$MED1" -w 10 sq
	# shellcheck disable=SC2016 # the inner bash expands these
	ip netns exec "$LAB-hB" bash -c '"$0" connect -w 2 -m "$1" sq \
	    </dev/null 2>"$2/c.err" | python3 "$2/slow.py" "$2/c.out"
	    exit "${PIPESTATUS[0]}"' "$1" "$MED1" "$T" 3>&- &
	PIDS[c]=$!
	wait_tag l 60
	wait_tag c 90
	show l c
}

@test "datagrams, -w with a slow stdout: what arrived is written before connect goes" {
	lab
	slowq "$PNC"
	[ "$RC" -eq 0 ]
	[ "$(sum "$T/c.out")" = "$(sum "$T/f")" ]
}

@test "datagrams, -w with a slow stdout, control: 1eee427 exits with the tail unwritten" {
	lab
	slowq "$PREVBIN"
	[ "$(stat -c %s "$T/c.out")" -lt 400000 ]
}
