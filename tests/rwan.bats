#!/usr/bin/env bats
#
# -R over a WAN: the lab's WAN link (tests/wanlink.c) between core and
# side A's router, 400 Mbit/s with a drop-tail queue of one RTT, at 50
# and 150 ms RTT with 0, 1 and 5% random loss both ways (issue 17); -R
# and TCP sharing a 50 Mbit/s bottleneck; a slow reader's memory.
#
# Every test builds its own lab: the link's settings are fixed when it
# starts. Sizes are such that a working -R takes a few seconds; each
# run is bounded (30 s), and a floor on the goodput (a third of what
# was measured on this 2-core machine under load) catches a collapse.

load helpers

setup_file() {
	export LAB_WANLINK=$BATS_FILE_TMPDIR/wanlink
	cc -O2 -Wall -Wextra -Werror -o "$LAB_WANLINK" \
	    "$BATS_TEST_DIRNAME/wanlink.c"
}

teardown() {
	lab_down
}

# field NAME LINE...: the number after the word NAME.
field() {
	local name=$1
	shift
	awk -v k="$name" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$*"
}

# wstat SIDE DIR NAME: counter NAME of direction DIR (a>b up, b>a down).
wstat() {
	lab_wan_stats "$1" | grep "^wanlink: $2 " | {
		read -r line
		field "$3" "$line"
	}
}

# at_least X MIN: X >= MIN, decimals allowed; says so when not.
at_least() {
	if awk -v x="$1" -v m="$2" 'BEGIN { exit !(x >= m) }'; then
		return 0
	fi
	echo "# $1 is below $2"
	return 1
}

# wan_r SPEC MB FLOOR: a lab with link SPEC on side A; MB of random data
# hB -> hA by -R through both NATs; equal checksums, the link's loss met,
# and goodput (receiver's first byte to its last) at least FLOOR MB/s.
# The floors guard against a collapse (protocol 2 moved under 0.2 MB/s
# with 1% loss), about a third of what a loaded machine gives: the speed
# itself is make bench's (tests/wanbench.sh), not a timed test's.
wan_r() {
	local spec=$1 mb=$2 floor=$3 n stamp bytes secs rate
	lab --wan-a "$spec,seed=3"
	randfile "$T/f" $((mb * 1000000))
	n=$(uname_)
	ip netns exec "$LAB-hA" "$PNC" listen -R -v -m "$MED1" -w 20 "$n" \
	    </dev/null 2>"$T/l.err" 3>&- |
	    "$LAB_WANLINK" stamp "$T/l.out" >"$T/stamp" &
	PIDS[l]=$!
	bgrun_in hB c "$T/f" "$PNC" connect -R -v -m "$MED1" -w 20 "$n"
	wait_tag l 30; rl=$RC
	wait_tag c 10; rc=$RC
	show l c | grep -v '\] peer candidate'
	read -r _ bytes _ secs <"$T/stamp"
	rate=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / s / 1e6 }')
	echo "# $mb MB in $secs s: $rate MB/s; link: $(lab_wan_stats A | tr '\n' ' ')" >&3
	[ "$rl" -eq 0 ]
	[ "$rc" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	if [[ $spec == *loss=* ]]; then
		[ "$(wstat A 'b>a' lost)" -gt 0 ]
	fi
	at_least "$rate" "$floor"
}

@test "-R over 50 ms RTT, 400 Mbit/s: 20 MB, checksums equal" {
	wan_r "delay=25ms,rate=400mbit,queue=50ms" 20 1.5
}

@test "-R over 50 ms RTT, 400 Mbit/s, 1% loss: 10 MB, checksums equal" {
	wan_r "delay=25ms,rate=400mbit,queue=50ms,loss=1%" 10 1
}

@test "-R over 50 ms RTT, 400 Mbit/s, 5% loss: 5 MB, checksums equal" {
	wan_r "delay=25ms,rate=400mbit,queue=50ms,loss=5%" 5 0.3
}

@test "-R over 150 ms RTT, 400 Mbit/s: 20 MB, checksums equal" {
	wan_r "delay=75ms,rate=400mbit,queue=150ms" 20 0.7
}

@test "-R over 150 ms RTT, 400 Mbit/s, 1% loss: 10 MB, checksums equal" {
	wan_r "delay=75ms,rate=400mbit,queue=150ms,loss=1%" 10 0.5
}

@test "-R over 150 ms RTT, 400 Mbit/s, 5% loss: 5 MB, checksums equal" {
	wan_r "delay=75ms,rate=400mbit,queue=150ms,loss=5%" 5 0.2
}

# size FILE: its size in bytes (0 if none yet).
size() {
	stat -c %s "$1" 2>/dev/null || echo 0
}

# The TCP flow is CUBIC, named on its socket: the default of Linux,
# Windows and macOS, and a flow that fills the queue. Not the host's
# default, which may be bbr (this machine's is): against kernel BBR v1,
# -R's share is make bench's figure (tests/wanbench.sh), beside CUBIC's.
@test "-R and TCP share 50 Mbit/s fairly: each 1/3 to 2/3 over 15 s" {
	lab --wan-a "delay=20ms,rate=50mbit,queue=40ms" --public-host
	n=$(uname_)
	# both from hA, over the link's a>b direction: TCP to hP, -R to hB
	bgrun hP t socat -u TCP-LISTEN:5001,reuseaddr "CREATE:$T/tcp.got"
	wait_for 5 tcp_listening hP 5001
	bgrun hB l "$PNC" listen -R -m "$MED1" -w 30 "$n"
	ip netns exec "$LAB-hA" sh -c "head -c 400000000 /dev/zero |
	    timeout 40 $PNC connect -R -m $MED1 -w 30 $n" \
	    >/dev/null 2>"$T/c.err" 3>&- &
	PIDS[c]=$!
	wait_for 10 size_ge "$T/l.out" 1
	ip netns exec "$LAB-hA" sh -c "head -c 400000000 /dev/zero |
	    timeout 40 socat -u STDIN TCP:$HP:5001,setsockopt-string=6:13:cubic" 2>"$T/tc.err" 3>&- &
	PIDS[tc]=$!
	# 5 s to settle, then 15 s measured
	wait_for 10 size_ge "$T/tcp.got" 1
	sleep 5
	r0=$(size "$T/l.out") t0=$(size "$T/tcp.got")
	sleep 15
	r1=$(size "$T/l.out") t1=$(size "$T/tcp.got")
	kill "${PIDS[c]}" "${PIDS[tc]}" "${PIDS[l]}" "${PIDS[t]}" 2>/dev/null
	share=$(awk -v r=$((r1 - r0)) -v t=$((t1 - t0)) \
	    'BEGIN { printf "%.3f", r / (r + t) }')
	echo "# 15 s: -R $(((r1 - r0) / 1000)) kB, TCP $(((t1 - t0) / 1000)) kB: -R's share $share" >&3
	echo "# link: $(lab_wan_stats A | tr '\n' ' ')" >&3
	# together they fill most of the link (6.25 MB/s, 94 MB in 15 s)
	[ $((r1 - r0 + t1 - t0)) -gt 60000000 ]
	at_least "$share" 0.333
	at_least "$(awk -v s="$share" 'BEGIN { print 1 - s }')" 0.333
}

tcp_listening() {
	[[ -n $(lab_exec "$1" ss -Hntl "sport = :$2") ]]
}

# rss PID: its VmRSS in kB (0 once it is gone).
rss() {
	awk '/VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

@test "-R: a slow reader over 100 ms: both sides stay within the budget" {
	lab --wan-a "delay=50ms,rate=400mbit,queue=100ms"
	n=$(uname_)
	bgrun hB idle "$PNC" listen -R -v -m "$MED1" -w 5 "idle$RANDOM"
	wait_for 5 grep -q registered "$T/idle.err"
	base=$(rss "${PIDS[idle]}")
	kill "${PIDS[idle]}"
	# 60 MB to a reader that takes 64 kB every 20 ms (3.2 MB/s at most)
	ip netns exec "$LAB-hB" sh -c "head -c 60000000 /dev/zero |
	    $PNC connect -R -m $MED1 -w 20 $n" >/dev/null 2>"$T/c.err" 3>&- &
	PIDS[c]=$!
	ip netns exec "$LAB-hA" "$PNC" listen -R -m "$MED1" -w 20 "$n" \
	    </dev/null 2>"$T/l.err" 3>&- | {
		while head -c 65536 >"$T/chunk" && [ -s "$T/chunk" ]; do
			cat "$T/chunk" >>"$T/l.out"
			sleep 0.02
		done
	} &
	PIDS[l]=$!
	wait_for 10 size_ge "$T/l.out" 1
	sleep 1
	lp=$(pgrep -n -f "listen -R -m $MED1 -w 20 $n")
	cp=$(pgrep -n -f "connect -R -m $MED1 -w 20 $n")
	lpeak=0 cpeak=0
	for _ in $(seq 100); do
		l=$(rss "$lp") c=$(rss "$cp")
		((l > lpeak)) && lpeak=$l
		((c > cpeak)) && cpeak=$c
		sleep 0.05
	done
	got=$(size "$T/l.out")
	kill "${PIDS[c]}" "${PIDS[l]}" 2>/dev/null
	echo "# base $base kB; peaks: receiver $lpeak kB, sender $cpeak kB; $((got / 1000)) kB read in ~6 s" >&3
	# the reader sets the pace: ~3 MB/s, not the link's 50
	[ "$got" -lt 30000000 ]
	[ "$lpeak" -gt 0 ] && [ "$cpeak" -gt 0 ]
	# the budget: 32 MB for both directions of a session
	[ $((lpeak - base)) -lt 32768 ]
	[ $((cpeak - base)) -lt 32768 ]
}

@test "-R -B 4: a slow reader's receiver stays within 4 MB" {
	lab
	n=$(uname_)
	bgrun hB idle "$PNC" listen -R -B 4 -v -m "$MED1" -w 5 "idle$RANDOM"
	wait_for 5 grep -q registered "$T/idle.err"
	base=$(rss "${PIDS[idle]}")
	kill "${PIDS[idle]}"
	ip netns exec "$LAB-hB" sh -c "head -c 60000000 /dev/zero |
	    $PNC connect -R -m $MED1 -w 20 $n" >/dev/null 2>"$T/c.err" 3>&- &
	PIDS[c]=$!
	ip netns exec "$LAB-hA" "$PNC" listen -R -B 4 -m "$MED1" -w 20 "$n" \
	    </dev/null 2>"$T/l.err" 3>&- | {
		while head -c 65536 >"$T/chunk" && [ -s "$T/chunk" ]; do
			cat "$T/chunk" >>"$T/l.out"
			sleep 0.02
		done
	} &
	PIDS[l]=$!
	wait_for 10 size_ge "$T/l.out" 1
	lp=$(pgrep -n -f "listen -R -B 4 -m $MED1 -w 20 $n")
	lpeak=0
	for _ in $(seq 60); do
		l=$(rss "$lp")
		((l > lpeak)) && lpeak=$l
		sleep 0.05
	done
	kill "${PIDS[c]}" "${PIDS[l]}" 2>/dev/null
	echo "# base $base kB; receiver's peak $lpeak kB" >&3
	[ "$lpeak" -gt 0 ]
	[ $((lpeak - base)) -lt 4096 ]
}

@test "-B: 4 to 4096 megabytes, and only with -R" {
	run "$PNC" listen -R -B 3 x
	[ "$status" -eq 2 ]
	[[ $output == *"bad -B: 3 (megabytes, 4 to 4096)"* ]]
	run "$PNC" connect -R -B 4097 x
	[ "$status" -eq 2 ]
	run "$PNC" connect -B 8 x
	[ "$status" -eq 2 ]
	[[ $output == *"-B without -R"* ]]
}
