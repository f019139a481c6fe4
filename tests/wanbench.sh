#!/bin/bash
# tests/wanbench.sh [MB [CAP_SECS]] - pnc -R, kernel TCP and kcptun over
# the lab's WAN link (issue 17's benchmark).
#
# For each path (a clean veth, then a WAN link between core and side A's
# router: 50 and 100 ms RTT at 400 Mbit/s, a drop-tail queue of one RTT,
# 0, 1 and 5% random loss both ways, seed 1), moves MB (default 20)
# megabytes of random data one way from hB to hA, through both home NATs,
# with:
#
#   -R      pnc connect -R (hB) to pnc listen -R (hA) through the mediator
#   TCP     socat over the kernel's TCP with CUBIC, the distribution's
#           default, and the distribution's buffers, hB to rA's public
#           address, port-forwarded to hA
#   BBR     the same with BBR (this machine's sysctl default, which a
#           namespace cannot change: the sender sets TCP_CONGESTION)
#   kcptun  kcptun-client (hB) to kcptun-server (hA, port-forwarded),
#           --crypt none --mode fast3 --nocomp and $KCPTUN_OPTS (empty:
#           kcptun's default windows), socat at both ends
#
# Each is one run, bounded by CAP_SECS (default 60): a flow that has not
# delivered everything by then is reported as "dnf" with the megabytes it
# delivered. MB/s is goodput at the receiver, from its first byte to its
# last (wanlink stamp), so the punch or the handshake is not counted;
# every completed run is checked against the sent file's SHA-256. "-R
# cpu s/GB" is user + system time of both pnc processes per GB moved.
# Then two flows share a 50 Mbit/s bottleneck, four pairs: -R beside
# TCP CUBIC and beside TCP BBR, and TCP beside TCP for scale.
# ONLY=REGEX runs the paths whose name matches, and the sharing part if
# "fair" matches it (ONLY=fair: that part alone). Needs root, kcptun,
# socat.
set -u
cd "$(dirname "$0")/.." || exit 2
source tests/lab.bash
PNC=${PNC:-$PWD/pnc}
MB=${1:-20}
CAP=${2:-60}
tmp=$(mktemp -d)
trap 'lab_down; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

for t in kcptun-client kcptun-server socat; do
	command -v "$t" >/dev/null || { echo "wanbench: needs $t" >&2; exit 2; }
done
[[ -x $PNC ]] || { echo "wanbench: no pnc at $PNC (make first)" >&2; exit 2; }
export LAB_WANLINK=$tmp/wanlink
cc -O2 -Wall -Wextra -o "$LAB_WANLINK" tests/wanlink.c || exit 2
head -c $((MB * 1000000)) /dev/urandom >"$tmp/f"
want=$(sha256sum <"$tmp/f")

# name|link spec (empty: a veth, no link)
PATHS=(
	"clean veth|"
	"50 ms, 400 Mbit/s|delay=25ms,rate=400mbit,queue=50ms"
	"50 ms, 400 Mbit/s, 1% loss|delay=25ms,rate=400mbit,queue=50ms,loss=1%"
	"50 ms, 400 Mbit/s, 5% loss|delay=25ms,rate=400mbit,queue=50ms,loss=5%"
	"100 ms, 400 Mbit/s|delay=50ms,rate=400mbit,queue=100ms"
	"100 ms, 400 Mbit/s, 1% loss|delay=50ms,rate=400mbit,queue=100ms,loss=1%"
	"100 ms, 400 Mbit/s, 5% loss|delay=50ms,rate=400mbit,queue=100ms,loss=5%"
)

# build SPEC: a fresh lab with the link, a mediator on core, and rA
# forwarding TCP 5001 and UDP 5002 from its public address to hA, like a
# home router with two port-forwards.
build() {
	lab_up ${1:+--wan-a "$1,seed=1"} >/dev/null || exit 1
	lab_bg core "$tmp/med.log" "$PNC" mediate -s "$MED1"
	wait_udp_port core 7321 || exit 1
	lab_exec rA nft -f - <<-EOF || exit 1
		table ip bench {
			chain pre {
				type nat hook prerouting priority -100;
				iifname "wan" tcp dport 5001 dnat to $HA
				iifname "wan" udp dport 5002 dnat to $HA
			}
		}
	EOF
	lab_exec rA nft insert rule ip filter fw ct status dnat accept || exit 1
}

# recv NODE CMD...: CMD in NODE (bounded by CAP) with its stdout through
# wanlink stamp into $tmp/out; the stamp line in $tmp/stamp. Sets RPID.
recv() {
	local node=$1
	shift
	rm -f "$tmp/out" "$tmp/stamp"
	{ ip netns exec "$LAB-$node" timeout -s KILL "$CAP" "$@" </dev/null \
	    2>>"$tmp/err" | "$LAB_WANLINK" stamp "$tmp/out" >"$tmp/stamp"; } &
	RPID=$!
}

# finish: waits for the receiver (its own CAP bounds it), then prints
# "MB/s" or "dnf X.XMB" for the run just made; "fail" if the bytes differ.
finish() {
	local bytes secs
	wait "$RPID"
	read -r _ bytes _ secs <"$tmp/stamp" 2>/dev/null || { echo fail; return; }
	if ((bytes < MB * 1000000)); then
		awk -v b="$bytes" 'BEGIN { printf "dnf %.1fMB\n", b / 1e6 }'
	elif [[ $(sha256sum <"$tmp/out") != "$want" ]]; then
		echo fail
	else
		awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f\n", (s > 0 ? b / s / 1e6 : 0) }'
	fi
}

# tcp_listening NODE PORT: a TCP socket in NODE listens on PORT.
tcp_listening() {
	[[ -n $(lab_exec "$1" ss -Hntl "sport = :$2") ]]
}

# run_tcp CC: TCP with congestion control CC (6:13 is IPPROTO_TCP,
# TCP_CONGESTION); the sender's choice is the one that matters.
run_tcp() {
	recv hA socat -u TCP-LISTEN:5001,reuseaddr STDOUT
	wait_for 5 tcp_listening hA 5001
	lab_exec hB timeout -s KILL "$CAP" socat -u "OPEN:$tmp/f" \
	    "TCP:$WAN_A:5001,setsockopt-string=6:13:$1" 2>>"$tmp/err"
	finish
}

run_kcp() {
	local k=(--crypt none --mode fast3 --nocomp --quiet)
	# shellcheck disable=SC2206 # words on purpose
	k+=(${KCPTUN_OPTS-})
	lab_bg hA "$tmp/kcps.log" kcptun-server "${k[@]}" -l :5002 \
	    -t 127.0.0.1:5003
	local ks=$LAB_BG_PID
	lab_bg hB "$tmp/kcpc.log" kcptun-client "${k[@]}" -l 127.0.0.1:5004 \
	    -r "$WAN_A:5002"
	local kc=$LAB_BG_PID
	recv hA socat -u TCP-LISTEN:5003,reuseaddr STDOUT
	wait_for 5 tcp_listening hB 5004
	wait_for 5 tcp_listening hA 5003
	lab_exec hB timeout -s KILL "$CAP" socat -u "OPEN:$tmp/f" \
	    TCP:127.0.0.1:5004 2>>"$tmp/err"
	finish
	kill "$ks" "$kc" 2>/dev/null
}

# run_r: sets RCPU to the CPU seconds of both pnc processes.
run_r() {
	local n=wb$RANDOM a b
	recv hA /usr/bin/time -f "%U %S" -o "$tmp/cpu.l" \
	    "$PNC" listen -R -m "$MED1" -w 20 "$n"
	lab_exec hB /usr/bin/time -f "%U %S" -o "$tmp/cpu.c" \
	    timeout -s KILL "$CAP" "$PNC" connect -R -m "$MED1" -w 20 "$n" \
	    <"$tmp/f" >/dev/null 2>>"$tmp/err"
	finish
	# a process killed by the cap leaves a first line saying so
	a=$(tail -n 1 "$tmp/cpu.l" 2>/dev/null)
	b=$(tail -n 1 "$tmp/cpu.c" 2>/dev/null)
	RCPU=$(awk -v a="$a" -v b="$b" 'BEGIN { split(a, x); split(b, y);
	    print x[1] + x[2] + y[1] + y[2] }')
}

# tun_drops NODE IF: the TX drops of a device (packets it could not queue).
tun_drops() {
	lab_exec "$1" ip -s link show dev "$2" |
		awk '/TX:/ { getline; print $4 }'
}

# ratio A B: A/B as "0.56x", or "-" when either is not a number.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
	    if (a + 0 > 0 && b + 0 > 0 && a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/)
	        printf "%.2fx", a / b; else printf "-" }'
}

printf '%s MB one way, hB -> hA through two NATs, one run each, cap %s s, %s cores\n' \
    "$MB" "$CAP" "$(nproc)"
printf '%-28s %9s %9s %11s %9s %6s %6s %6s %7s\n' path "TCP MB/s" \
    "BBR MB/s" "-R MB/s" "kcp MB/s" "R/TCP" "R/BBR" "R/kcp" "R cpu/GB"
for p in "${PATHS[@]}"; do
	[[ ${p%%|*} =~ ${ONLY:-.} ]] || continue
	build "${p#*|}"
	tcp=$(run_tcp cubic)
	bbr=$(run_tcp bbr)
	kcp=$(run_kcp)
	lab_exec hA nstat -n
	lab_exec hB nstat -n
	run_r >"$tmp/r"
	udperr=$(for h in hA hB; do
		lab_exec "$h" nstat -az UdpRcvbufErrors UdpSndbufErrors |
			awk -v h="$h" 'NR > 1 { printf "%s %s %s, ", h, $1, $2 }'
	done)
	r=$(<"$tmp/r")
	cpu=$(awk -v c="$RCPU" -v mb="$MB" 'BEGIN { printf "%.1f", c / (mb / 1000) }')
	[[ $r == [0-9]* ]] || cpu=-
	printf '%-28s %9s %9s %11s %9s %6s %6s %6s %7s\n' "${p%%|*}" "$tcp" \
	    "$bbr" "$r" "$kcp" "$(ratio "$r" "$tcp")" "$(ratio "$r" "$bbr")" \
	    "$(ratio "$r" "$kcp")" "$cpu"
	if [[ -n ${p#*|} ]]; then
		{
			echo "  ${p%%|*}:"
			lab_wan_stats A | sed 's/^/    /'
			# what the TUN queues dropped before wanlink read it
			# would be loss the link does not count
			printf '    TUN tx drops: rA wan %s, core ethA %s\n' \
			    "$(tun_drops rA wan)" "$(tun_drops core ethA)"
			echo "    during -R: ${udperr%, }"
		} >>"$tmp/links"
	fi
done
echo "MB/s: goodput at the receiver, first byte to last (MB = 10^6 bytes)."
echo "TCP is CUBIC; R/TCP etc. are goodput ratios: above 1, -R was faster."
echo "dnf X: did not finish in $CAP s, X delivered. Link counters per path:"
cat "$tmp/links"
[[ ${ONLY:-fair} =~ fair ]] || exit 0

# flow NAME KIND PORT: a flow of zeros from hA over the link's a>b
# direction into $tmp/NAME.got: KIND R is pnc -R to hB, cubic or bbr
# kernel TCP (TCP_CONGESTION on the sender) to hP's PORT.
flow() {
	local name=$1 kind=$2 port=$3 n=wf$RANDOM
	: >"$tmp/$name.got"
	if [[ $kind == R ]]; then
		ip netns exec "$LAB-hB" "$PNC" listen -R -m "$MED1" -w 30 "$n" \
		    </dev/null >"$tmp/$name.got" 2>>"$tmp/err" &
		FLOW_PIDS+=($!)
		ip netns exec "$LAB-hA" sh -c "head -c 400000000 /dev/zero |
		    timeout 40 $PNC connect -R -m $MED1 -w 30 $n" \
		    >/dev/null 2>>"$tmp/err" &
	else
		ip netns exec "$LAB-hP" socat -u "TCP-LISTEN:$port,reuseaddr" \
		    STDOUT </dev/null >"$tmp/$name.got" 2>>"$tmp/err" &
		FLOW_PIDS+=($!)
		wait_for 5 tcp_listening hP "$port"
		ip netns exec "$LAB-hA" sh -c "head -c 400000000 /dev/zero |
		    timeout 40 socat -u STDIN \
		    TCP:$HP:$port,setsockopt-string=6:13:$kind" 2>>"$tmp/err" &
	fi
	FLOW_PIDS+=($!)
}

# fair A B: flows A and B at once through 50 Mbit/s, 20 ms each way and
# a 40 ms drop-tail queue (tests/rwan.bats's fairness path): B starts
# once A delivers, then 5 s to settle and 15 s measured. Prints A's
# share of the bytes delivered, and both rates.
fair() {
	local a0 b0 a1 b1
	FLOW_PIDS=()
	lab_up --wan-a "delay=20ms,rate=50mbit,queue=40ms,seed=1" \
	    --public-host >/dev/null || exit 1
	lab_bg core "$tmp/med.log" "$PNC" mediate -s "$MED1"
	wait_udp_port core 7321 || exit 1
	flow a "$1" 5001
	wait_for 10 size_ge "$tmp/a.got" 1
	flow b "$2" 5002
	wait_for 10 size_ge "$tmp/b.got" 1
	sleep 5
	a0=$(stat -c %s "$tmp/a.got") b0=$(stat -c %s "$tmp/b.got")
	sleep 15
	a1=$(stat -c %s "$tmp/a.got") b1=$(stat -c %s "$tmp/b.got")
	kill "${FLOW_PIDS[@]}" 2>/dev/null
	wait "${FLOW_PIDS[@]}" 2>/dev/null
	lab_down
	awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) 'BEGIN {
	    printf "%.3f  (%.2f + %.2f MB/s of 6.25)", a / (a + b),
	    a / 15e6, b / 15e6 }'
}

echo
echo "Sharing a bottleneck: 50 Mbit/s, 40 ms RTT, a one-RTT drop-tail queue;"
echo "the first flow's share of 15 s, one run each (a third to two thirds:"
echo "issue 17's bound). TCP beside TCP is the kernel's own, for scale."
for p in "R cubic|-R beside CUBIC" "R bbr|-R beside BBR" \
    "cubic bbr|CUBIC beside BBR" "cubic cubic|CUBIC beside CUBIC"; do
	printf '  %-20s ' "${p#*|}"
	# shellcheck disable=SC2086 # two words on purpose
	fair ${p%|*}
	echo
done
