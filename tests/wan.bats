#!/usr/bin/env bats
#
# The lab's WAN link (tests/wanlink.c, lab_up --wan-a/--wan-b): it does
# what it is told, measured from the hosts on either side of it, and pnc
# works through it. Every test builds its own lab: the link's settings
# are fixed when it starts.
#
# Measurements use wanlink's own tools: `echo` on core, `probe` from a
# host behind side A's NAT (RTT and loss of UDP round trips), `sink` on
# core (the IP rate that arrives). The bounds leave room for a loaded
# 2-core machine but not for a link that ignores its settings.

load helpers

setup_file() {
	export LAB_WANLINK=$BATS_FILE_TMPDIR/wanlink
	# -Werror: wanlink.c is house code too, and a warning fails the file.
	cc -O2 -Wall -Wextra -Werror -o "$LAB_WANLINK" \
	    "$BATS_TEST_DIRNAME/wanlink.c"
}

teardown() {
	lab_down
}

# wl ARGS...: the wanlink binary (its measuring tools).
wl() {
	"$LAB_WANLINK" "$@"
}

# echo_on_core: a UDP echo on MED1:9000 (bound to it, for the NAT).
echo_on_core() {
	lab_bg core "$T/echo.log" "$LAB_WANLINK" echo 9000 "$MED1"
	wait_udp_port core 9000
}

# tcp_listening NODE PORT: a TCP socket in NODE listens on PORT.
tcp_listening() {
	[[ -n $(lab_exec "$1" ss -Hntl "sport = :$2") ]]
}

# field NAME LINE...: the number after the word NAME in a "key value" line.
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

# within X LO HI: LO <= X <= HI, decimals allowed; says so when not.
within() {
	if awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'; then
		return 0
	fi
	echo "# $1 is not within [$2, $3]"
	return 1
}

@test "wan: a bad link spec is refused and leaves nothing behind" {
	run lab_up --wan-a "delay=25ms,jitter=3ms"
	[ "$status" -eq 2 ]
	[[ $output == *"unknown key in 'jitter=3ms'"* ]]
	run lab_up --wan-a "delay"
	[ "$status" -eq 2 ]
	# a value only wanlink can judge: it says why and the lab goes away
	run lab_up --wan-a "delay=25parsecs"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"--delay: bad value '25parsecs'"* ]]
	[ -z "$(_lab_namespaces)" ]
	[ ! -e "$(_lab_wan_dir)" ]
}

@test "wan: 25 ms each way gives a 50 ms RTT; 30/10 ms gives 40 ms" {
	lab_up --wan-a "delay=25ms"
	echo_on_core
	out=$(lab_exec hA "$LAB_WANLINK" probe "$MED1" 9000 200 5000 100)
	echo "# 25 ms each way: $out" >&3
	[ "$(field recv "$out")" -eq 200 ]
	# the minimum is the link's own delay (2 ms of room: it catches a
	# wrong delay); the median adds the host's scheduling, which under
	# the full suite's load reached 54.6 ms (CI of f2a19c1)
	within "$(field rtt_min "$out")" 50 52
	within "$(field rtt_med "$out")" 50 60
	lab_down
	lab_up --wan-a "delay=30ms/10ms"
	echo_on_core
	out=$(lab_exec hA "$LAB_WANLINK" probe "$MED1" 9000 200 5000 100)
	echo "# 30 ms up, 10 ms down: $out" >&3
	[ "$(field recv "$out")" -eq 200 ]
	within "$(field rtt_min "$out")" 40 42
	within "$(field rtt_med "$out")" 40 50
}

@test "wan: the link survives lab_reset; lab_down stops it and removes all" {
	lab_up --wan-b "delay=5ms"
	pid=$(cat "$(_lab_wan_dir)/B.pid")
	[ "$(cat "/proc/$pid/comm")" = wanlink ]
	lab_reset
	lab_bg core "$T/echo.log" "$LAB_WANLINK" echo 9000 "$MED1"
	wait_udp_port core 9000
	out=$(lab_exec hB "$LAB_WANLINK" probe "$MED1" 9000 20 5000 100)
	[ "$(field recv "$out")" -eq 20 ]
	within "$(field rtt_min "$out")" 10 12
	lab_down
	wait_for 3 lab_pid_dead "$pid"
	[ -z "$(_lab_namespaces)" ]
	[ ! -e "$(_lab_wan_dir)" ]
}

# loss_run SEED: 4000 round trips through 5% loss on the way up only.
# Sets MISSING (echoes that did not come back) and LOST (what the link
# counted as lost on the way up).
loss_run() {
	lab_up --wan-a "loss=5%/0,seed=$1" >/dev/null
	# IPv6 router solicitations would draw from the loss stream at times
	# of their own: the probes alone cross the link, in a fixed order.
	lab_exec rA sysctl -qw net.ipv6.conf.wan.disable_ipv6=1
	lab_exec core sysctl -qw net.ipv6.conf.ethA.disable_ipv6=1
	echo_on_core
	out=$(lab_exec hA "$LAB_WANLINK" probe "$MED1" 9000 4000 500 100)
	MISSING=$((4000 - $(field recv "$out")))
	LOST=$(wstat A 'a>b' lost)
	echo "# seed $1: $out; link lost $LOST" >&3
	lab_down
}

@test "wan: 5% loss measured over 4000 packets; a seed repeats a run" {
	loss_run 42
	# 4000 Bernoulli trials at 5%: 200 expected, sd 13.8; 4.5 sd is +-62.
	within "$MISSING" 138 262
	# each loss is a missing echo, nothing else goes missing (the link
	# may also have dropped a packet of the lab's start)
	within "$LOST" "$MISSING" $((MISSING + 2))
	m42=$MISSING
	loss_run 42
	[ "$MISSING" -eq "$m42" ]
	loss_run 43
	within "$MISSING" 138 262
	[ "$MISSING" -ne "$m42" ]
}

# rate_run MBIT OVER SECS: a link of MBIT up with a 50 ms queue; a UDP
# source in hA sends OVER Mbit/s of 1500-byte IP packets to a sink on core
# for about SECS. Sets OUT to the sink's line and checks that the queue
# overflowed (the source really was faster than the link).
rate_run() {
	local mbit=$1 over=$2 secs=$3 ival count
	lab_up --wan-a "rate=${mbit}mbit,queue=50ms" >/dev/null
	lab_bg core "$T/sink.out" "$LAB_WANLINK" sink 9001 "$MED1"
	local sink=$LAB_BG_PID
	wait_udp_port core 9001
	ival=$((1500 * 8 / over))	# us per packet at OVER Mbit/s
	count=$((secs * 1000000 / ival))
	lab_exec hA "$LAB_WANLINK" probe "$MED1" 9001 "$count" "$ival" 1472 \
	    >/dev/null
	wait_for 10 lab_pid_dead "$sink"
	OUT=$(cat "$T/sink.out")
	echo "# ${mbit} Mbit/s: $OUT; up: $(lab_wan_stats A | head -1)" >&3
	[ "$(wstat A 'a>b' qdrop)" -gt 0 ]
}

@test "wan: 50 Mbit/s measured with a UDP flood of twice that" {
	rate_run 50 100 3
	within "$(field mbit "$OUT")" 47.5 51
}

@test "wan: 400 Mbit/s measured with a UDP flood of 600" {
	rate_run 400 600 2
	within "$(field mbit "$OUT")" 380 408
}

@test "wan: TCP through 50 Mbit/s, 10 ms each way, gets most of the link" {
	lab_up --wan-a "delay=10ms,rate=50mbit,queue=40ms" --public-host
	randfile "$T/f" 10000000
	bgrun hP l socat -u TCP-LISTEN:5001,reuseaddr "CREATE:$T/got"
	wait_for 5 tcp_listening hP 5001
	t0=${EPOCHREALTIME/./}
	# CUBIC, named: the host's default may be another (bbr here)
	lab_exec hA socat -u "OPEN:$T/f" \
	    "TCP:$HP:5001,setsockopt-string=6:13:cubic"
	wait_tag l 30
	t1=${EPOCHREALTIME/./}
	[ "$RC" -eq 0 ]
	[ "$(sum "$T/got")" = "$(sum "$T/f")" ]
	mbit=$(awk -v us=$((t1 - t0)) 'BEGIN { printf "%.1f", 80e6 / us }')
	echo "# 10 MB by TCP in $(((t1 - t0) / 1000)) ms: $mbit Mbit/s of payload" >&3
	# 1448 of every 1500 bytes are payload: 48.3 at most; slow start
	# over 20 ms costs a little, and the link's forwarding loop shares
	# the cores with the suite (34.6 once in a suite run beside two
	# other files): 30, the link still carries most of its rate
	within "$mbit" 30 48.3
}

@test "wan: the queue is bounded: an overload adds at most its 40 ms" {
	lab_up --wan-a "delay=10ms,rate=50mbit,queue=40ms"
	echo_on_core
	lab_bg core "$T/sink.out" "$LAB_WANLINK" sink 9001 "$MED1"
	wait_udp_port core 9001
	# hC floods the link at twice its rate for 4 s while hA probes it
	lab_bg hC "$T/flood.out" "$LAB_WANLINK" probe "$MED1" 9001 33333 120 1472
	flood=$LAB_BG_PID
	out=$(lab_exec hA "$LAB_WANLINK" probe "$MED1" 9000 300 10000 100)
	echo "# probes under overload: $out" >&3
	wait_for 10 lab_pid_dead "$flood"
	[ "$(wstat A 'a>b' qdrop)" -gt 1000 ]
	# The queue was full (about 40 ms of it) and never more than that:
	# unbounded, 4 s at twice the rate would queue 2 s. The median is
	# 20 + 40 ms and a little slack; the worst of 300 probes also holds
	# the machine's scheduling (133 ms once, under the full suite in CI
	# with two cores busy), still far below the 2 s of no bound.
	within "$(field rtt_med "$out")" 50 63
	within "$(field rtt_max "$out")" 20 250
	# drop-tail at arrival takes a probe when there is room: some do
	# get through a queue the flood keeps full
	[ "$(field recv "$out")" -ge 20 ]
}

@test "wan: pnc -R through NATs, 50 ms RTT and 1% loss: 1 MB, checksums equal" {
	lab --wan-a "delay=25ms,loss=1%,seed=7"
	randfile "$T/f" 1000000
	n=$(uname_)
	t0=${EPOCHREALTIME/./}
	bgrun hA l "$PNC" listen -R -m "$MED1" -w 20 "$n"
	bgrun_in hB c "$T/f" "$PNC" connect -R -m "$MED1" -w 20 "$n"
	wait_tag l 60; rl=$RC
	wait_tag c 10; rc=$RC
	t1=${EPOCHREALTIME/./}
	show l c
	echo "# 1 MB -R in $(((t1 - t0) / 1000)) ms; link: $(lab_wan_stats A | tr '\n' ' ')" >&3
	[ "$rl" -eq 0 ]
	[ "$rc" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	# the data went through the link and met its loss
	[ "$(wstat A 'b>a' lost)" -gt 0 ]
	[ "$(wstat A 'b>a' out)" -gt 700 ]
}
