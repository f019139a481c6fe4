#!/bin/bash
# tests/matrix.sh [N] [TOPOLOGY...] - the traversal matrix.
#
# For each topology, builds the real-NAT lab (tests/lab.bash), runs N
# trials of two `pnc punch` started at the same moment, and prints one
# row: topology, successes/trials, median and worst time to punch (both
# result lines printed). Needs root. Example: sudo tests/matrix.sh 10
# PROTO_FLAG=-t runs the TCP column (pnc punch -t), -a TCP-then-UDP.
# RELAY=1 runs the relay column instead: the mediator with -r, and each
# trial a listen/connect pair that passes one line; a row counts how
# many sessions went direct (through a port mapping: mapped), were
# relayed, or failed. Rows with a port-mapping field run miniupnpd
# (NAT-PMP, PCP) on that side's router (lab_portmap).
#
# The table goes to stdout in the format of RESULTS (a first line with
# the date and the command, then one row per topology); RESULTS=update
# also writes it into RESULTS's section for this column ([matrix udp],
# [matrix tcp], [matrix auto] or [matrix relay]), which needs the whole
# matrix (no TOPOLOGY given). RESULTS_FILE names another file to write.
set -u
cd "$(dirname "$0")/.." || exit 2
source tests/lab.bash
source tests/results.bash
PNC=${PNC:-$PWD/pnc}
N=${1:-10}
shift || true
FILTER=("$@")
W=${W:-10}			# -w of each trial
tmp=$(mktemp -d)
trap 'lab_down; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

case ${RELAY:+relay}${PROTO_FLAG:-} in
relay*)	SECTION="matrix relay" ENVS="RELAY=1 " ;;
-t)	SECTION="matrix tcp" ENVS="PROTO_FLAG=-t " ;;
-a)	SECTION="matrix auto" ENVS="PROTO_FLAG=-a " ;;
"")	SECTION="matrix udp" ENVS= ;;
*)	SECTION="matrix $PROTO_FLAG" ENVS="PROTO_FLAG=$PROTO_FLAG " ;;
esac
if [[ ${RESULTS:-} == update ]] && ((${#FILTER[@]} > 0)); then
	echo "matrix.sh: RESULTS=update needs the whole matrix (no TOPOLOGY)" >&2
	exit 2
fi
# out FORMAT ARGS...: a line of the table, to stdout and to the copy
# that RESULTS=update writes.
out() {
	# shellcheck disable=SC2059
	printf "$@" | tee -a "$tmp/table"
}

# name | lab_up options | side A node | side B node | loss % | expected
# [| routers running miniupnpd: A, B or AB]
TOPOS=(
	"home/home||hA|hB|0|direct"
	"same LAN, no hairpin||hA|hC|0|direct"
	"accept/accept (conntrack clash)|--nat-a accept --nat-b accept|hA|hB|0|direct"
	"symmetric/home|--nat-a symmetric|hA|hB|0|direct"
	"home/symmetric|--nat-b symmetric|hA|hB|0|direct"
	"symmetric/symmetric|--nat-a symmetric --nat-b symmetric|hA|hB|0|fail"
	"double NAT both sides|--cgnat-a --cgnat-b|hA|hB|0|direct"
	"public host/home|--public-host|hP|hB|0|direct"
	"home/home, 10% loss||hA|hB|10|direct"
	"home/home, 30% loss||hA|hB|30|direct"
	"home/strict (drops all from outside)|--nat-b strict|hA|hB|0|fail"
	"symmetric/symmetric, mapping on A|--nat-a symmetric --nat-b symmetric|hA|hB|0|direct|A"
	"symmetric/symmetric, mapping on both|--nat-a symmetric --nat-b symmetric|hA|hB|0|direct|AB"
)

median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else print a[int((NR+1)/2)]}'; }

# stamp FILE: the first line of stdin, prefixed with when it arrived (us).
stamp() {
	local line
	if IFS= read -r line; then
		echo "${EPOCHREALTIME/./} $line" >"$1"
	else
		: >"$1"
	fi
	cat >/dev/null
}

# trial A B NAME: both punch at once; prints "ok MS" (until both result
# lines were printed) or "fail MS WHY".
trial() {
	local a=$1 b=$2 name=$3 t0 ta tb ra=0 rb=0 pa pb
	t0=${EPOCHREALTIME/./}
	ip netns exec "$LAB-$a" "$PNC" punch ${V:+-v} ${PROTO_FLAG:-} -m "$MED1" -w "$W" "$name" \
	    2>"$tmp/a.err" | stamp "$tmp/a.out" &
	pa=$!
	ip netns exec "$LAB-$b" "$PNC" punch ${V:+-v} ${PROTO_FLAG:-} -m "$MED1" -w "$W" "$name" \
	    2>"$tmp/b.err" | stamp "$tmp/b.out" &
	pb=$!
	wait $pa
	wait $pb
	if [[ -s $tmp/a.out && -s $tmp/b.out ]]; then
		read -r ta _ <"$tmp/a.out"
		read -r tb _ <"$tmp/b.out"
		((tb > ta)) && ta=$tb
		echo "ok $(( (ta - t0) / 1000 ))"
	else
		if [[ -n ${KEEP:-} ]]; then
			cat "$tmp/a.err" >"$KEEP.$name.a"
			cat "$tmp/b.err" >"$KEEP.$name.b"
		fi
		# The failed side's last line is its error (-v lines come first).
		f=$tmp/a.err
		[[ -s $tmp/a.out ]] && f=$tmp/b.err
		echo "fail 0 $(tail -n1 "$f")"
	fi
}

# trial_session A B NAME: listen on A, connect on B, one line across;
# prints "direct", "relayed" or "failed WHY".
trial_session() {
	local a=$1 b=$2 name=$3 pa pb ra rb
	echo "hello $name" >"$tmp/msg"
	ip netns exec "$LAB-$a" "$PNC" listen -v -m "$MED1" -w "$W" "$name" \
	    </dev/null >"$tmp/a.out" 2>"$tmp/a.err" &
	pa=$!
	ip netns exec "$LAB-$b" "$PNC" connect -v -m "$MED1" -w "$W" "$name" \
	    <"$tmp/msg" >/dev/null 2>"$tmp/b.err" &
	pb=$!
	wait $pa; ra=$?
	wait $pb; rb=$?
	if ((ra == 0 && rb == 0)) && cmp -s "$tmp/msg" "$tmp/a.out"; then
		if grep -q 'relayed by the mediator' "$tmp/a.err" "$tmp/b.err"
		then
			echo relayed
		elif grep -q 'punched through to .* (mapped)' "$tmp/a.err" \
		    "$tmp/b.err"; then
			echo mapped
		else
			echo direct
		fi
	else
		echo "failed $(tail -qn1 "$tmp/a.err" "$tmp/b.err" | head -1)"
	fi
}

# The command, topologies included, so that a table says what it covers.
CMD="tests/matrix.sh $N"
((${#FILTER[@]} > 0)) && CMD+=$(printf " '%s'" "${FILTER[@]}")
out '%s, %s cores: %sW=%s %s (%s trials per topology, -w %s)\n' \
    "$(date -u +%F)" "$(nproc)" "$ENVS" "$W" "$CMD" "$N" "$W"
if [[ -n ${RELAY:-} ]]; then
	out '%-38s %7s %7s %8s %7s\n' topology direct mapped relayed failed
else
	out '%-38s %-8s %-7s %9s %9s\n' topology expected result median_ms worst_ms
fi
for row in "${TOPOS[@]}"; do
	IFS='|' read -r name opts a b loss expect pmap <<<"$row"
	if ((${#FILTER[@]} > 0)); then
		match=0
		for want in "${FILTER[@]}"; do [[ $name == *"$want"* ]] && match=1; done
		((match)) || continue
	fi
	# shellcheck disable=SC2086
	lab_up $opts >/dev/null || { out '%s: lab_up failed\n' "$name"; continue; }
	[[ $loss != 0 ]] && lab_loss "$loss"
	ip netns exec "$LAB-core" "$PNC" mediate -v -s "$MED1" -s "$MED2" \
	    ${RELAY:+-r} >"$tmp/med.log" 2>&1 &
	disown
	wait_udp_port core 7321
	for side in A B; do
		[[ ${pmap:-} == *$side* ]] || continue
		lab_portmap "$side" "$tmp/pm$side" ||
		    out '%s: miniupnpd on side %s did not start\n' "$name" "$side"
	done
	if [[ -n ${RELAY:-} ]]; then
		nd=0 nm=0 nr=0 nf=0 why=
		for i in $(seq "$N"); do
			read -r res rest < <(trial_session "$a" "$b" "r$i-$RANDOM")
			case $res in
			direct) nd=$((nd + 1)) ;;
			mapped) nm=$((nm + 1)) ;;
			relayed) nr=$((nr + 1)) ;;
			*) nf=$((nf + 1)); why=$rest ;;
			esac
		done
		out '%-38s %7d %7d %8d %7d\n' "$name" "$nd" "$nm" "$nr" "$nf"
		[[ -n $why ]] && out '    %s\n' "$why"
		kill %% 2>/dev/null
		lab_down 2>/dev/null
		unset LAB
		continue
	fi
	ok=0
	: >"$tmp/times"
	why=
	for i in $(seq "$N"); do
		read -r res ms rest < <(trial "$a" "$b" "m$i-$RANDOM")
		if [[ $res == ok ]]; then
			ok=$((ok + 1))
			echo "$ms" >>"$tmp/times"
		else
			why=$rest
		fi
	done
	med=$(median <"$tmp/times")
	worst=$(sort -n "$tmp/times" | tail -1)
	out '%-38s %-8s %3d/%-3d %9s %9s\n' "$name" "$expect" "$ok" "$N" \
	    "$med" "${worst:--}"
	[[ -n $why ]] && out '    %s\n' "$why"
	[[ -n ${KEEP:-} ]] && cp "$tmp/med.log" "$KEEP.med.log"
	kill %% 2>/dev/null
	lab_down 2>/dev/null
	unset LAB
done
if [[ ${RESULTS:-} == update ]]; then
	results_update "$SECTION" "$tmp/table" || exit 1
fi
