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
# Needs root, kcptun and socat.
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
for p in "${PATHS[@]:0:${NPATHS:-99}}"; do
	build "${p#*|}"
	tcp=$(run_tcp cubic)
	bbr=$(run_tcp bbr)
	kcp=$(run_kcp)
	run_r >"$tmp/r"
	r=$(<"$tmp/r")
	cpu=$(awk -v c="$RCPU" -v mb="$MB" 'BEGIN { printf "%.1f", c / (mb / 1000) }')
	[[ $r == [0-9]* ]] || cpu=-
	printf '%-28s %9s %9s %11s %9s %6s %6s %6s %7s\n' "${p%%|*}" "$tcp" \
	    "$bbr" "$r" "$kcp" "$(ratio "$r" "$tcp")" "$(ratio "$r" "$bbr")" \
	    "$(ratio "$r" "$kcp")" "$cpu"
	[[ -n ${p#*|} ]] && lab_wan_stats A | sed 's/^/    /' >>"$tmp/links"
done
echo "MB/s: goodput at the receiver, first byte to last (MB = 10^6 bytes)."
echo "TCP is CUBIC; R/TCP etc. are goodput ratios: above 1, -R was faster."
echo "dnf X: did not finish in $CAP s, X delivered. Link counters per path:"
cat "$tmp/links"
