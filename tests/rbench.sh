#!/bin/bash
# tests/rbench.sh [MB] - reliable mode against TCP, same lab path.
#
# Moves MB (default 50) megabytes from hB (`pnc connect`) to hA (`pnc
# listen`) through two home NATs, once with -R (reliable UDP) and once
# with -t (a punched TCP connection, the kernel's TCP), at 0%, 5% and 20%
# random loss between the sides, and prints completion time and goodput
# side by side. Each figure is the median of REP (3) runs. Needs root.
set -u
cd "$(dirname "$0")/.." || exit 2
source tests/lab.bash
PNC=${PNC:-$PWD/pnc}
MB=${1:-50}
REP=${REP:-3}
tmp=$(mktemp -d)
trap 'lab_down; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

lab_up >/dev/null || exit 1
ip netns exec "$LAB-core" "$PNC" mediate -s "$MED1" >/dev/null 2>&1 &
disown
wait_udp_port core 7321
head -c $((MB * 1000000)) /dev/urandom >"$tmp/f"
want=$(sha256sum <"$tmp/f")

# one FLAG: seconds for one transfer, or "fail"
one() {
	local flag=$1 n=rb$RANDOM t0 t1
	t0=${EPOCHREALTIME/./}
	ip netns exec "$LAB-hA" "$PNC" listen "$flag" -m "$MED1" -w 20 "$n" \
	    </dev/null >"$tmp/out" 2>/dev/null &
	local pl=$!
	ip netns exec "$LAB-hB" timeout 600 "$PNC" connect "$flag" -m "$MED1" \
	    -w 20 "$n" <"$tmp/f" >/dev/null 2>/dev/null
	wait $pl
	t1=${EPOCHREALTIME/./}
	if [[ $(sha256sum <"$tmp/out") == "$want" ]]; then
		echo "$(( (t1 - t0) / 1000 ))"
	else
		echo fail
	fi
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%s MB one way, hB -> hA, median of %s runs, %s cores\n' "$MB" \
    "$REP" "$(nproc)"
printf '%-6s %12s %10s %12s %10s %8s\n' loss "-R ms" "-R MB/s" \
    "TCP ms" "TCP MB/s" "R/TCP"
for loss in 0 5 20; do
	lab_loss "$loss"
	: >"$tmp/r"
	: >"$tmp/t"
	for _ in $(seq "$REP"); do
		one -R >>"$tmp/r"
		one -t >>"$tmp/t"
	done
	r=$(grep -v fail "$tmp/r" | median)
	t=$(grep -v fail "$tmp/t" | median)
	awk -v l="$loss%" -v r="${r:-0}" -v t="${t:-0}" -v mb="$MB" \
	    -v rf="$(grep -c fail "$tmp/r")" -v tf="$(grep -c fail "$tmp/t")" \
	    'BEGIN { printf "%-6s %12s %10.1f %12s %10.1f %7.2fx%s\n", l,
	    r, r ? mb / (r / 1000) : 0, t, t ? mb / (t / 1000) : 0,
	    t ? r / t : 0, (rf + tf) ? sprintf("  (%d/%d failed)", rf, tf) : "" }'
done
echo "R/TCP is the completion-time ratio: below 1 means -R was faster."
