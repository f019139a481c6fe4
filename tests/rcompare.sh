#!/bin/bash
# tests/rcompare.sh MB REP PNC... - -R throughput of several pnc builds,
# side by side under the same load.
#
# Moves MB megabytes from hB (`pnc connect -R`) to hA (`pnc listen -R`)
# through the lab's two home NATs, REP times for each build, the builds
# alternating run by run (so that a neighbour's load on a shared machine
# falls on all of them alike), each with its own mediator (a v2 build
# needs a v2 one). Prints per build the runs' MB/s (first byte sent to
# last byte received, start-up included), their median, the median CPU
# seconds of receiver and sender, and hA's UDP receive-buffer drops per
# run. Needs root. E.g. a build of an older commit from `git archive`
# beside this one (RESULTS, "The cost of encryption").
set -u
cd "$(dirname "$0")/.." || exit 2
source tests/lab.bash
MB=${1:?usage: rcompare.sh MB REP PNC...} REP=${2:?}
shift 2
tmp=$(mktemp -d)
trap 'lab_down; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
lab_up >/dev/null || exit 1
head -c $((MB * 1000000)) /dev/urandom >"$tmp/f"

# hA's UDP RcvbufErrors
drops() {
	ip netns exec "$LAB-hA" awk '/^Udp: [0-9]/ { print $6 }' /proc/net/snmp
}

# one PNC: "MB/s rx-cpu-s tx-cpu-s drops", or "fail"
one() {
	local b=$1 n=rc$RANDOM t0 t1 d0 d1 mpid= p pl
	ip netns exec "$LAB-core" "$b" mediate -s "$MED1" >/dev/null 2>&1 &
	disown
	wait_udp_port core 7321
	for p in $(ip netns pids "$LAB-core"); do
		[[ $(cat "/proc/$p/comm" 2>/dev/null) == "$(basename "$b" |
		    cut -c1-15)" ]] && mpid=$p
	done
	d0=$(drops)
	t0=${EPOCHREALTIME/./}
	ip netns exec "$LAB-hA" /usr/bin/time -f "%U %S" -o "$tmp/tl" "$b" \
	    listen -R -m "$MED1" -w 20 "$n" </dev/null >"$tmp/out" 2>/dev/null &
	pl=$!
	ip netns exec "$LAB-hB" /usr/bin/time -f "%U %S" -o "$tmp/tc" \
	    timeout 600 "$b" connect -R -m "$MED1" -w 20 "$n" <"$tmp/f" \
	    >/dev/null 2>/dev/null
	wait "$pl"
	t1=${EPOCHREALTIME/./}
	d1=$(drops)
	kill "$mpid"
	wait_for 5 bash -c "! ip netns exec $LAB-core ss -uln | grep -q :7321"
	if cmp -s "$tmp/f" "$tmp/out"; then
		awk -v mb="$MB" -v us=$((t1 - t0)) -v l="$(cat "$tmp/tl")" \
		    -v c="$(cat "$tmp/tc")" -v d=$((d1 - d0)) 'BEGIN {
		    split(l, a, " "); split(c, b, " ");
		    printf "%.1f %.2f %.2f %d\n", mb / (us / 1e6), a[1] + a[2],
		    b[1] + b[2], d }'
	else
		echo fail
	fi
}

# median COLUMN FILE
median() {
	grep -v fail "$2" | sort -k"$1" -n |
	    awk -v c="$1" '{ a[NR] = $c } END { print a[int((NR + 1) / 2)] }'
}

for ((r = 1; r <= REP; r++)); do
	i=0
	for b in "$@"; do
		one "$b" >>"$tmp/r$i"
		i=$((i + 1))
	done
done
printf '%s MB hB -> hA with -R, %s runs each, alternating; load %s\n' \
    "$MB" "$REP" "$(cut -d' ' -f1-3 /proc/loadavg)"
i=0
for b in "$@"; do
	printf '%s\n  runs MB/s: %s\n  median %s MB/s, CPU s rx %s tx %s, rcvbuf drops %s\n' \
	    "$b" "$(awk '{ printf "%s ", $1 }' "$tmp/r$i")" \
	    "$(median 1 "$tmp/r$i")" "$(median 2 "$tmp/r$i")" \
	    "$(median 3 "$tmp/r$i")" "$(median 4 "$tmp/r$i")"
	i=$((i + 1))
done
