#!/bin/bash
# tests/matrix.sh [N] [TOPOLOGY...] - the traversal matrix.
#
# For each topology, builds the real-NAT lab (tests/lab.bash), runs N
# trials of two `pnc punch -v` started at the same moment, and prints one
# row: topology, what pnc is expected to do there, successes/trials,
# median and worst time to punch (both result lines printed), and the
# path the successes took (see below). Needs root. Example: sudo
# tests/matrix.sh 10. PROTO_FLAG=-t runs the TCP column (pnc punch -t),
# -a TCP-then-UDP. RELAY=1 runs the relay column instead: the mediator
# with -r, and each trial a listen/connect pair that passes one line; a
# row counts how many sessions went direct, mapped, relayed, moved from
# the relay to a direct path, or failed.
#
# A path is what the clients' stderr says (session.c, punch.c):
# "relayed" when a side says "the session is relayed by the mediator"
# (or punched through to a mediator, "(relay)"), "mapped" when a side
# "punched through to ADDR:PORT (mapped)" (the peer's candidate is a
# port mapping its router granted), "direct" when a side punched
# through to another candidate or has a "TCP connection with" the peer,
# "moved" when a side says "the session is direct now" (relayed first,
# then direct: issue 18's relay-then-direct work), "?" when neither side
# said. A pair is counted by its most remote side: moved, else relayed,
# else mapped, else direct. In the TCP column, rows with a symmetric NAT
# are expected to fail: TCP punches none, and maps no port.
#
# Rows with a port-mapping field run miniupnpd (NAT-PMP, PCP) on that
# side's router (lab_portmap); "nat-pmp" drops PCP there, so that the
# client falls back to NAT-PMP. miniupnpd learns its public address from
# a STUN server that answers bare Binding requests: the merge-base's
# mediator (lab_stun_server, built here from LAB_STUN_BASE once; STUN_PNC
# names a build to use instead), not the mediator under test, which
# answers padded requests only (issue 16).
#
# The table goes to stdout in the format of RESULTS (a first line with
# the date, this tree's commit ("+": changed; PNC=path runs another
# build, which the line does not name) and the command, then one row per topology, then
# how long the run took); RESULTS=update also writes it into RESULTS's
# section for this column ([matrix udp], [matrix tcp], [matrix auto] or
# [matrix relay]), and into README's when README has that section; it
# needs the whole matrix (no TOPOLOGY given). RESULTS_FILE names another
# file to write (README is then left alone).
#
# KEEP=PREFIX keeps the logs of each trial that failed where it should
# not have (every failed session of the relay column; a failed punch in
# a row not expected to fail) in a directory PREFIX-K (the first K from
# 1 not taken): both clients' stderr (l.err and c.err for listen and
# connect, a.err and b.err for the two punches), the mediator's log,
# and for a port-mapping row the STUN server's log and each router's
# miniupnpd log, its nftables rules and conntrack table.
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
# KEEPTMP=1: the work directory stays, and its name goes to stderr.
trap 'lab_down; if [[ -n ${KEEPTMP:-} ]]; then echo "$tmp" >&2; else rm -rf "$tmp"; fi' EXIT
trap 'exit 130' INT TERM HUP

# The mediator's options (besides -v and its two addresses). The relay
# column's allows 1024 sessions (-x), so that a network's share (a
# sixteenth) is 64, not 4: a relayed session keeps its place until 30 s
# after its last datagram (the clients do not say that they are done),
# and a row's back-to-back trials from the same two addresses would meet
# that budget from their fifth on ("too many sessions from your network").
MEDOPTS=
case ${RELAY:+relay}${PROTO_FLAG:-} in
relay*)	SECTION="matrix relay" ENVS="RELAY=1 " MEDOPTS="-r -x 1024" ;;
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
# [| routers running miniupnpd: A, B or AB [| nat-pmp: PCP dropped]]
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
	"symmetric/symmetric, PCP on A|--nat-a symmetric --nat-b symmetric|hA|hB|0|mapped|A"
	"symmetric/symmetric, PCP on both|--nat-a symmetric --nat-b symmetric|hA|hB|0|mapped|AB"
	"symmetric/symmetric, NAT-PMP on A|--nat-a symmetric --nat-b symmetric|hA|hB|0|mapped|A|nat-pmp"
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

# path_of ERRFILE...: the pair's path from its sides' stderr (see the top).
path_of() {
	local kinds
	kinds=$(sed -n 's/.*punched through to [^ ]* (\([a-z-]*\)).*/\1/p' "$@")
	if grep -q 'the session is direct now' "$@"; then
		echo moved
	elif grep -q 'the session is relayed by the mediator' "$@" ||
	    grep -qx relay <<<"$kinds"; then
		echo relayed
	elif grep -qx mapped <<<"$kinds"; then
		echo mapped
	elif [[ -n $kinds ]] || grep -q 'TCP connection with' "$@"; then
		echo direct
	else
		echo '?'
	fi
}

# paths FILE: a row's path column from FILE's paths, one a line:
# "direct" when all were, "mapped 9, direct 1" when mixed, "-" if none.
paths() {
	sort "$1" | uniq -c | sort -k1,1nr -k2 | awk '
	    { n[NR] = $1; p[NR] = $2; t += $1 }
	    END { if (NR == 0) { print "-"; exit }
		if (NR == 1) { print p[1]; exit }
		for (i = 1; i <= NR; i++)
			printf "%s%s %d", (i > 1 ? ", " : ""), p[i], n[i]
		print "" }'
}

# keep WHAT: the logs of a failed trial in $KEEP-K (see the top).
keep() {
	local k=1 d s r
	[[ -n ${KEEP:-} ]] || return 0
	while [[ -e $KEEP-$k ]]; do k=$((k + 1)); done
	d=$KEEP-$k
	mkdir -p "$d" || return 0
	echo "$WHAT" >"$d/what"
	cp "$tmp"/*.err "$tmp/med.log" "$d/" 2>/dev/null
	[[ -n ${pmap:-} ]] && cp "$tmp/stun.log" "$d/" 2>/dev/null
	for s in A B; do
		[[ ${pmap:-} == *$s* ]] || continue
		r=r$s
		cp "$tmp/pm$s/upnp.log" "$d/upnp$s.log" 2>/dev/null
		lab_exec "$r" nft list ruleset >"$d/nft$s.txt" 2>&1
		lab_exec "$r" conntrack -L >"$d/conntrack$s.txt" 2>&1
	done
	echo "matrix.sh: logs of a failed trial in $d" >&2
}

# trial A B NAME: both punch at once; prints "ok MS PATH" (MS until both
# result lines were printed) or "fail 0 WHY".
trial() {
	local a=$1 b=$2 name=$3 t0 ta tb pa pb f
	rm -f "$tmp"/*.err
	t0=${EPOCHREALTIME/./}
	# shellcheck disable=SC2086 # PROTO_FLAG: no word, or one
	ip netns exec "$LAB-$a" "$PNC" punch -v ${PROTO_FLAG:-} -m "$MED1" -w "$W" "$name" \
	    2>"$tmp/a.err" | stamp "$tmp/a.out" &
	pa=$!
	# shellcheck disable=SC2086
	ip netns exec "$LAB-$b" "$PNC" punch -v ${PROTO_FLAG:-} -m "$MED1" -w "$W" "$name" \
	    2>"$tmp/b.err" | stamp "$tmp/b.out" &
	pb=$!
	wait $pa
	wait $pb
	if [[ -s $tmp/a.out && -s $tmp/b.out ]]; then
		read -r ta _ <"$tmp/a.out"
		read -r tb _ <"$tmp/b.out"
		((tb > ta)) && ta=$tb
		echo "ok $(( (ta - t0) / 1000 )) $(path_of "$tmp/a.err" "$tmp/b.err")"
	else
		[[ $expect != fail ]] && WHAT="$name: $ENVS$row" keep
		# The failed side's last line is its error (-v lines come first).
		f=$tmp/a.err
		[[ -s $tmp/a.out ]] && f=$tmp/b.err
		echo "fail 0 $(tail -n1 "$f")"
	fi
}

# why_session RL RC: why a session failed (RL, RC: listen's and connect's
# exit status): the last line of the first side that failed (its error),
# or when both exited 0, listen's line that says what was lost.
why_session() {
	if (($1 != 0)); then
		tail -n1 "$tmp/l.err"
	elif (($2 != 0)); then
		tail -n1 "$tmp/c.err"
	else
		grep -m1 'were lost' "$tmp/l.err" ||
		    echo "listen's output differs from connect's input"
	fi
}

# trial_session A B NAME: listen on A, connect on B, one line across;
# prints "direct", "mapped", "relayed", "moved", "?" or "failed WHY".
trial_session() {
	local a=$1 b=$2 name=$3 pa pb ra rb
	rm -f "$tmp"/*.err
	echo "hello $name" >"$tmp/msg"
	ip netns exec "$LAB-$a" "$PNC" listen -v -m "$MED1" -w "$W" "$name" \
	    </dev/null >"$tmp/l.out" 2>"$tmp/l.err" &
	pa=$!
	ip netns exec "$LAB-$b" "$PNC" connect -v -m "$MED1" -w "$W" "$name" \
	    <"$tmp/msg" >/dev/null 2>"$tmp/c.err" &
	pb=$!
	wait $pa; ra=$?
	wait $pb; rb=$?
	if ((ra == 0 && rb == 0)) && cmp -s "$tmp/msg" "$tmp/l.out"; then
		path_of "$tmp/l.err" "$tmp/c.err"
	else
		WHAT="$name: exits $ra $rb; $ENVS$row" keep
		echo "failed $(why_session "$ra" "$rb")"
	fi
}

# portmap: miniupnpd on the routers that pmap names, asking the STUN
# server; with proto nat-pmp, those routers drop PCP (version 2). What
# went wrong goes to NOTES, printed below the row.
portmap() {
	local s r
	lab_stun_server "$STUN_PNC" "$tmp/stun.log" ||
	    NOTES+=("the STUN server for miniupnpd did not start")
	for s in A B; do
		[[ $pmap == *$s* ]] || continue
		r=r$s
		if ! lab_portmap "$s" "$tmp/pm$s" ||
		    ! lab_portmap_ready "$tmp/pm$s"; then
			NOTES+=("miniupnpd on r$s does not map: $(tail -n1 \
			    "$tmp/pm$s/upnp.log")")
		fi
		[[ ${proto:-} == nat-pmp ]] &&
		    lab_exec "$r" nft insert rule ip filter in udp dport 5351 \
		    @th,64,8 2 drop
	done
}

# The trials of one row in the relay column.
row_relay() {
	local nd=0 nm=0 nr=0 nv=0 nf=0 nq=0 why='' i res rest
	for i in $(seq "$N"); do
		read -r res rest < <(trial_session "$a" "$b" "r$i-$RANDOM")
		case $res in
		direct) nd=$((nd + 1)) ;;
		mapped) nm=$((nm + 1)) ;;
		relayed) nr=$((nr + 1)) ;;
		moved) nv=$((nv + 1)) ;;
		'?') nq=$((nq + 1)) ;;
		*) nf=$((nf + 1)); why=$rest ;;
		esac
	done
	out '%-38s %7d %7d %8d %6d %7d\n' "$name" "$nd" "$nm" "$nr" "$nv" "$nf"
	((nq > 0)) && out '    %d session(s) did not say their path\n' "$nq"
	[[ -n $why ]] && out '    %s\n' "$why"
}

# The trials of one row in a punch column.
row_punch() {
	local ok=0 why='' i res ms p med worst
	: >"$tmp/times"
	: >"$tmp/paths"
	for i in $(seq "$N"); do
		read -r res ms p < <(trial "$a" "$b" "m$i-$RANDOM")
		if [[ $res == ok ]]; then
			ok=$((ok + 1))
			echo "$ms" >>"$tmp/times"
			echo "$p" >>"$tmp/paths"
		else
			why=$p
		fi
	done
	med=$(median <"$tmp/times")
	worst=$(sort -n "$tmp/times" | tail -1)
	out '%-38s %-8s %3d/%-3d %9s %9s  %s\n' "$name" "$expect" "$ok" "$N" \
	    "$med" "${worst:--}" "$(paths "$tmp/paths")"
	[[ -n $why ]] && out '    %s\n' "$why"
}

selected() {
	local want
	((${#FILTER[@]} == 0)) && return 0
	for want in "${FILTER[@]}"; do [[ $1 == *"$want"* ]] && return 0; done
	return 1
}

# The STUN server's pnc, built once if a selected row maps ports.
STUN_PNC=${STUN_PNC:-}
for row in "${TOPOS[@]}"; do
	IFS='|' read -r name _ _ _ _ _ pmap _ <<<"$row"
	if [[ -z $pmap || -n $STUN_PNC ]] || ! selected "$name"; then
		continue
	fi
	lab_build_at "$LAB_STUN_BASE" "$tmp/stun" ||
	    { echo "matrix.sh: cannot build $LAB_STUN_BASE" >&2; exit 2; }
	STUN_PNC=$tmp/stun/pnc
done

# The command, topologies included, so that a table says what it covers;
# the commit, "+" when the tree differs from it (RESULTS, README aside).
CMD="tests/matrix.sh $N"
((${#FILTER[@]} > 0)) && CMD+=$(printf " '%s'" "${FILTER[@]}")
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- . ':(exclude)RESULTS' ':(exclude)README' \
    2>/dev/null || COMMIT+=+
START=$SECONDS
out '%s, %s cores, commit %s: %sW=%s %s (%s trials per topology, -w %s%s)\n' \
    "$(date -u +%F)" "$(nproc)" "$COMMIT" "$ENVS" "$W" "$CMD" "$N" "$W" \
    "${MEDOPTS:+, mediate $MEDOPTS}"
if [[ -n ${RELAY:-} ]]; then
	out '%-38s %7s %7s %8s %6s %7s\n' topology direct mapped relayed \
	    moved failed
else
	out '%-38s %-8s %-7s %9s %9s  %s\n' topology expected result \
	    median_ms worst_ms path
fi
for row in "${TOPOS[@]}"; do
	IFS='|' read -r name opts a b loss expect pmap proto <<<"$row"
	selected "$name" || continue
	# TCP cannot punch a symmetric NAT, and maps no port (pnc.1)
	[[ ${PROTO_FLAG:-} == -t && $opts == *symmetric* ]] && expect=fail
	# shellcheck disable=SC2086
	lab_up $opts >/dev/null || { out '%s: lab_up failed\n' "$name"; continue; }
	[[ $loss != 0 ]] && lab_loss "$loss"
	# shellcheck disable=SC2086 # MEDOPTS: words
	lab_bg core "$tmp/med.log" "$PNC" mediate -v -s "$MED1" -s "$MED2" \
	    $MEDOPTS
	wait_udp_port core 7321
	NOTES=()
	[[ -n $pmap ]] && portmap
	if [[ -n ${RELAY:-} ]]; then
		row_relay
	else
		row_punch
	fi
	for note in "${NOTES[@]}"; do out '    %s\n' "$note"; done
	lab_down
	unset LAB
done
out '(%d s)\n' $((SECONDS - START))
if [[ ${RESULTS:-} == update ]]; then
	results_update "$SECTION" "$tmp/table" || exit 1
	if [[ $RESULTS_FILE == RESULTS ]] && grep -qxF "[$SECTION]" README
	then
		RESULTS_FILE=README results_update "$SECTION" "$tmp/table" ||
		    exit 1
	fi
fi
