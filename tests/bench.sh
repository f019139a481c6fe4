#!/bin/bash
# tests/bench.sh - pnc's numbers, each beside what it is compared with
# (issue 7). `make bench` builds a release pnc and runs this. Needs root,
# the lab's tools (tests/lab.bash), socat, OpenBSD nc and a C compiler.
#
# In one run, on the real-NAT lab (home NAT on both sides):
#  1. time to punch: two `pnc punch` (hA, hB) started at the same moment,
#     until both have printed their line; BENCH_N trials (50), median and
#     p95, on a clean path and with 10% loss. The floor beside it: two
#     `loadgen xchg` started the same way, each sending to the other's
#     public endpoint through a hole `pnc punch` opened before (every
#     10 ms until it hears the other), until both have printed "ok". So
#     the floor is process start-up plus one crossing of the NATs.
#  2. UDP throughput: BENCH_MB (50) MB from hB to hA through a punched
#     hole: `pnc connect` to `pnc listen`, and socat and `nc -u` over a
#     hole from `pnc punch`. Rate is counted at the receiver, from its
#     first byte to its last. Datagrams are counted in hA's
#     /proc/net/snmp: those its UDP delivered to a socket and those the
#     socket's buffer dropped (the routers cannot count them: with UDP
#     GSO they forward a sender's bundle of datagrams as one packet).
#  3. mediator capacity, on loopback inside a lab namespace, mediator
#     pinned to CPU 0 and tests/loadgen to CPU 1: rendezvous per second
#     (and per mediator CPU-second), beside a plain UDP reflector, the
#     floor for any one-socket server; resident memory per pending
#     registration at 1 000, 100 000 and 1 000 000 registrations. Each
#     loadgen client does the cookie exchange of protocol version 2, as
#     pnc does, from one of 64 loopback addresses (a mediator gives one
#     address at most 1/64 of its table); the mediators run without a
#     rate limit (-l 0). Beside it, in the same run, the mediator before
#     issue 16's defences (built from git, BASE).
# 3s. scale-out: one mediator process against two (CPU 0 and CPU 1), the
#     names split by pnc's rendezvous hashing (scale_out): pairs/s, and
#     the mediators' and the load generator's CPU per pair.
#  4. footprint: stripped binary size, and peak VmRSS of a client in the
#     throughput sessions of 2, beside socat and nc.
#  5. relay: BENCH_MB MB with -R through the mediator's relay (both NATs
#     symmetric, mediate -r with no rate cap) against the same direct
#     (home NATs), and the mediator's CPU time per relayed megabyte.
# BENCH_REP (3) runs of 2, 3 and 5 are taken; medians are printed.
# BENCH_ONLY="1 2" runs only those sections (all by default); "3s" the
# scale-out rows of 3 alone.
#
# The table goes to stdout at the end, in the format of RESULTS (a first
# line with the date and the machine); RESULTS=update also writes it into
# RESULTS's [bench] section (RESULTS_FILE names another file).
set -u
cd "$(dirname "$0")/.." || exit 2
source tests/lab.bash
source tests/results.bash
PNC=${PNC:-$PWD/pnc}
N=${BENCH_N:-50}
MB=${BENCH_MB:-50}
REP=${BENCH_REP:-3}
BIG=2000000			# -n of the loopback mediator
WARM=1000			# registrations before the memory is read
W=10				# -w of each punch
LG=$PWD/tests/loadgen
START=${EPOCHREALTIME/./}
tmp=$(mktemp -d)
trap 'lab_down; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

die() { echo "bench: $*" >&2; exit 1; }
# only K: is section K to run (BENCH_ONLY)?
only() { [[ -z ${BENCH_ONLY:-} || " $BENCH_ONLY " == *" $1 "* ]]; }
for t in socat nc nft conntrack strip taskset cc; do
	command -v $t >/dev/null || die "needs $t"
done
[[ -x $PNC ]] || die "no $PNC: run make bench"
cc -O2 -std=c11 -Wall -Wextra -o "$LG" tests/loadgen.c || die "loadgen"
# The mediator before issue 16's defences, built as make bench builds pnc:
# section 3 measures both in one run.
BASE=2988964
# Without git (a release tarball) those rows are left out.
BASE_PNC=$tmp/base/pnc
mkdir "$tmp/base" && git archive "$BASE" 2>/dev/null | tar -x -C "$tmp/base" &&
    make -s -C "$tmp/base" CFLAGS="-O2 -fno-asynchronous-unwind-tables -fno-inline-functions" pnc \
    >/dev/null 2>&1 || BASE_PNC=
# BENCH_SECTIONS (12345): which sections to run.
SECTIONS=${BENCH_SECTIONS:-12345}
want() { [[ $SECTIONS == *$1* ]]; }

# ---------------------------------------------------------------------------
# Small statistics on a file of numbers, one a line.

# q FILE P: the P-th percentile (nearest rank), or - for an empty file.
q() {
	sort -g "$1" | awk -v p="$2" '{ a[NR] = $1 }
	    END { if (NR == 0) { print "-"; exit }
		k = int((NR * p + 99) / 100); if (k < 1) k = 1; print a[k] }'
}
# ratio A B: A/B as "2.41x", or - when either is missing.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0)
	    print "-"; else printf "%.2fx\n", a / b }'
}
# r0 X, r1 X: X rounded to 0 or 1 decimals (- stays -).
r0() { [[ $1 == - ]] && echo - || printf '%.0f\n' "$1"; }
r1() { [[ $1 == - ]] && echo - || printf '%.1f\n' "$1"; }
# f EXPR: evaluates an awk expression, for arithmetic with fractions.
f() { awk "BEGIN { printf \"%s\n\", $1 }"; }

ROWS=()
row() { ROWS+=("$(printf '%-34s %12s  %-22s %12s %8s' "$@")"); }
note() { ROWS+=("    $*"); }
section() { ROWS+=("" "$*"); }

# ---------------------------------------------------------------------------
# 1. Time to punch

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

# both T0 A_OUT B_OUT: ms from T0 until both stamped lines, or nothing.
both() {
	local ta tb
	[[ -s $2 && -s $3 ]] || return 1
	read -r ta _ <"$2"
	read -r tb _ <"$3"
	((tb > ta)) && ta=$tb
	f "($ta - $1) / 1000"
}

# punch_trial NAME: two pnc punch started at once; prints ms or fails.
punch_trial() {
	local t0 pa pb
	t0=${EPOCHREALTIME/./}
	ip netns exec "$LAB-hA" "$PNC" punch -m "$MED1" -w "$W" "$1" \
	    2>/dev/null | stamp "$tmp/a.out" &
	pa=$!
	ip netns exec "$LAB-hB" "$PNC" punch -m "$MED1" -w "$W" "$1" \
	    2>/dev/null | stamp "$tmp/b.out" &
	pb=$!
	wait $pa
	wait $pb
	both "$t0" "$tmp/a.out" "$tmp/b.out"
}

# floor_trial: two loadgen xchg through the hole in HOLE_A/HOLE_B.
floor_trial() {
	local t0 pa pb
	t0=${EPOCHREALTIME/./}
	# shellcheck disable=SC2086 # LPORT ADDR PORT
	ip netns exec "$LAB-hA" "$LG" xchg $HOLE_A 3000 2>/dev/null |
	    stamp "$tmp/a.out" &
	pa=$!
	# shellcheck disable=SC2086
	ip netns exec "$LAB-hB" "$LG" xchg $HOLE_B 3000 2>/dev/null |
	    stamp "$tmp/b.out" &
	pb=$!
	wait $pa
	wait $pb
	both "$t0" "$tmp/a.out" "$tmp/b.out"
}

# hole NAME: pnc punch on both sides; sets HOLE_A and HOLE_B to each
# side's "LOCALPORT PEERADDR PEERPORT".
hole() {
	local pa
	ip netns exec "$LAB-hA" "$PNC" punch -m "$MED1" -w "$W" "$1" \
	    >"$tmp/ha" 2>/dev/null &
	pa=$!
	ip netns exec "$LAB-hB" "$PNC" punch -m "$MED1" -w "$W" "$1" \
	    >"$tmp/hb" 2>/dev/null
	wait $pa
	HOLE_A=$(cat "$tmp/ha") HOLE_B=$(cat "$tmp/hb")
	[[ $HOLE_A =~ ^[0-9]+\ [0-9.]+\ [0-9]+$ &&
	    $HOLE_B =~ ^[0-9]+\ [0-9.]+\ [0-9]+$ ]]
}

# punch_block LOSS: N trials of each, interleaved; two table rows.
punch_block() {
	local loss=$1 i ms okp=0 okf=0 pm pp fm fp
	lab_loss "$loss" || die "lab_loss"
	hole "hole$loss-$RANDOM" || die "pnc punch failed to open a hole"
	: >"$tmp/tp"
	: >"$tmp/tf"
	for ((i = 1; i <= N; i++)); do
		if ms=$(punch_trial "b$loss-$i-$RANDOM"); then
			echo "$ms" >>"$tmp/tp"
			okp=$((okp + 1))
		fi
		if ms=$(floor_trial); then
			echo "$ms" >>"$tmp/tf"
			okf=$((okf + 1))
		fi
	done
	pm=$(q "$tmp/tp" 50) pp=$(q "$tmp/tp" 95)
	fm=$(q "$tmp/tf" 50) fp=$(q "$tmp/tf" 95)
	row "punch, $loss% loss: median ms" "$(r1 "$pm")" "floor" "$(r1 "$fm")" "$(ratio "$pm" "$fm")"
	row "punch, $loss% loss: p95 ms" "$(r1 "$pp")" "floor" "$(r1 "$fp")" "$(ratio "$pp" "$fp")"
	row "  succeeded (pnc / floor)" "$okp/$N" "" "$okf/$N" ""
	lab_loss 0
}

# ---------------------------------------------------------------------------
# 2. Throughput, and 4. the clients' memory in those sessions

# udp_stat NODE FIELD: a Udp: counter of NODE's /proc/net/snmp.
udp_stat() {
	lab_exec "$1" cat /proc/net/snmp | awk -v f="$2" '$1 == "Udp:" {
	    if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 }
	    else print $c[f] }'
}
# hwm PID: peak resident kB of a live process (VmHWM), or nothing.
hwm() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status" 2>/dev/null; }

# transfer TOOL REP: moves the data hB -> hA with TOOL (pnc, socat, nc);
# appends "MBps dgps dgsize arrived_bytes sent lost rcvbuf hwm_rx hwm_tx"
# to $tmp/tp.TOOL.
transfer() {
	local tool=$1 name="tp$2-$RANDOM" rx tx sk deadline h hr=0 ht=0 \
	    a0 a1 d0 d1 la pb lb pa out
	rm -f "$tmp/fifo"
	mkfifo "$tmp/fifo"
	if [[ $tool != pnc ]]; then
		hole "$name" || { echo "punch failed" >>"$tmp/err.$tool"; return 1; }
		read -r la _ pb <<<"$HOLE_A"
		read -r lb _ pa <<<"$HOLE_B"
	fi
	a0=$(udp_stat hA InDatagrams)
	d0=$(udp_stat hA RcvbufErrors)
	"$LG" sink <"$tmp/fifo" >"$tmp/sink" &
	sk=$!
	case $tool in
	pnc)
		ip netns exec "$LAB-hA" "$PNC" listen -m "$MED1" -w 20 "$name" \
		    </dev/null >"$tmp/fifo" 2>"$tmp/rx.err" &
		rx=$!
		ip netns exec "$LAB-hB" "$PNC" connect -m "$MED1" -w 20 "$name" \
		    <"$tmp/data" >/dev/null 2>"$tmp/tx.err" &
		tx=$!
		;;
	socat)
		ip netns exec "$LAB-hA" socat -u "UDP-RECV:$la,reuseaddr" - \
		    </dev/null >"$tmp/fifo" 2>"$tmp/rx.err" &
		rx=$!
		wait_udp_port hA "$la"
		ip netns exec "$LAB-hB" socat -u -b 1200 "OPEN:$tmp/data" \
		    "UDP-SENDTO:$WAN_A:$pa,sourceport=$lb,reuseaddr" \
		    </dev/null 2>"$tmp/tx.err" &
		tx=$!
		;;
	nc)
		# The receiver binds first: nc -u quits on ICMP unreachable.
		ip netns exec "$LAB-hA" nc -u -d -p "$la" "$WAN_B" "$pb" \
		    </dev/null >"$tmp/fifo" 2>"$tmp/rx.err" &
		rx=$!
		wait_udp_port hA "$la"
		ip netns exec "$LAB-hB" nc -u -q 0 -p "$lb" "$WAN_A" "$pa" \
		    <"$tmp/data" >/dev/null 2>"$tmp/tx.err" &
		tx=$!
		;;
	esac
	# Sample peak memory until the sender is done (60 s at most).
	deadline=$((SECONDS + 60))
	while ! lab_pid_dead "$tx" && ((SECONDS < deadline)); do
		h=$(hwm "$rx") && [[ -n $h ]] && hr=$h
		h=$(hwm "$tx") && [[ -n $h ]] && ht=$h
		sleep 0.05
	done
	# pnc's receiver ends by itself; socat and nc get half a second.
	deadline=$((SECONDS + 5))
	[[ $tool == pnc ]] || sleep 0.5
	while [[ $tool == pnc ]] && ! lab_pid_dead "$rx" && ((SECONDS < deadline)); do
		h=$(hwm "$rx") && [[ -n $h ]] && hr=$h
		sleep 0.05
	done
	kill "$rx" "$tx" 2>/dev/null
	wait "$rx" "$tx" 2>/dev/null
	wait "$sk"
	a1=$(udp_stat hA InDatagrams)
	d1=$(udp_stat hA RcvbufErrors)
	# bytes secs -> MB/s; the datagrams that reached hA: delivered to a
	# socket (InDatagrams) and dropped by its buffer.
	read -r _ by _ secs <"$tmp/sink"
	out=$(awk -v by="$by" -v secs="$secs" -v s=$((a1 - a0 + d1 - d0)) \
	    -v d=$((d1 - d0)) -v hr="$hr" -v ht="$ht" \
	    'BEGIN { dl = s - d; if (secs <= 0) secs = 1e-9
		printf "%.1f %.0f %.0f %d %d %d %d %d %d\n", by / secs / 1e6,
		    dl / secs, dl ? by / dl : 0, by, s, s - dl, d, hr, ht }')
	echo "$out" >>"$tmp/tp.$tool"
	grep -h 'lost' "$tmp/rx.err" >>"$tmp/err.$tool" 2>/dev/null
	return 0
}

# col TOOL K: median of field K of the transfer lines of TOOL.
col() {
	awk -v k="$2" '{ print $k }' "$tmp/tp.$1" >"$tmp/col"
	q "$tmp/col" 50
}

# ---------------------------------------------------------------------------
# 3. Mediator capacity, on loopback in hC

# cpu_ticks PID: user + system clock ticks so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

# start_server CMD...: in hC on CPU 0; sets SRV; waits for port 7400.
start_server() {
	ip netns exec "$LAB-hC" taskset -c 0 "$@" </dev/null \
	    >/dev/null 2>"$tmp/srv.err" &
	SRV=$!
	wait_udp_port hC 7400 || die "server on 7400 did not start"
}
stop_server() {
	kill "$SRV" 2>/dev/null
	wait "$SRV" 2>/dev/null
}

# scale_run TAG LGCPU MEDCPU...: a mediator process pinned to each
# MEDCPU (ports 7400, 7410, ...), the load generator pinned to LGCPU
# (a list: it may move), SCALE_W pairs in flight, each name sent to the
# mediator pnc would register it with first (loadgen's hrw_pick: pnc's
# rendezvous hashing). Appends to $tmp/so.TAG "rate cpu busiest share0
# lgcpu": rendezvous/s; the mediators' CPU, all together and the
# busiest one's, and the load generator's, in cores; the names' share
# on the first mediator.
SCALE_W=512
scale_run() {
	local tag=$1 lgc=$2 c i=0 pids=() ports=() t0 t1 out hz ticks0=()
	hz=$(getconf CLK_TCK)
	shift 2
	for c in "$@"; do
		ports+=($((7400 + 10 * i)))
		ip netns exec "$LAB-hC" taskset -c "$c" "$PNC" mediate \
		    -s 127.0.0.1 -p "${ports[i]}" -n $BIG -l 0 </dev/null \
		    >/dev/null 2>&1 &
		pids+=($!)
		wait_udp_port hC "${ports[i]}" || die "mediator ${ports[i]} did not start"
		i=$((i + 1))
	done
	for i in "${!pids[@]}"; do ticks0[i]=$(cpu_ticks "${pids[i]}"); done
	t0=$EPOCHREALTIME
	out=$(ip netns exec "$LAB-hC" taskset -c "$lgc" "$LG" rate \
	    "$(IFS=,; echo "${ports[*]}")" 3 $SCALE_W)
	t1=$EPOCHREALTIME
	for i in "${!pids[@]}"; do
		ticks0[i]=$(($(cpu_ticks "${pids[i]}") - ticks0[i]))
	done
	kill "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null
	awk -v o="$out" -v c="${ticks0[*]}" -v hz="$hz" \
	    -v t="$(f "$t1 - $t0")" 'BEGIN {
		n = split(o, w, /[ \n]/); k = split(c, x, " ")
		for (i = 1; i <= k; i++) { a += x[i]; if (x[i] > m) m = x[i] }
		s0 = 1; s1 = 0
		for (i = 1; i < n; i++) if (w[i] == "med0") s0 = w[i + 1]
		for (i = 1; i < n; i++) if (w[i] == "med1") s1 = w[i + 1]
		for (i = 1; i < n; i++) if (w[i] == "cpu_ms") l = w[i + 1]
		printf "%s %.3f %.3f %.3f %.3f\n", w[6], a / hz / t,
		    m / hz / t, s0 / (s0 + s1), l / 1000 / t }' >>"$tmp/so.$tag"
}

# scale_cores TAG N: N cores, each with a mediator process (port 7400,
# 7410, ...) and a load generator playing the names pnc's rendezvous
# hashing takes to that mediator (LOADGEN_SHARD), pinned together: what N
# cores serve when the clients' own work is elsewhere, as it is for a
# real mediator (on loopback a core also carries its clients' half).
# Appends "rate cpu busiest share0 lgcpu" to $tmp/so.TAG, as scale_run.
scale_cores() {
	local tag=$1 n=$2 i pids=() lgs=() ports t0 t1 hz ticks0=() out=()
	hz=$(getconf CLK_TCK)
	ports=$(seq -s, 7400 10 $((7400 + 10 * (n - 1))))
	for ((i = 0; i < n; i++)); do
		ip netns exec "$LAB-hC" taskset -c "$i" "$PNC" mediate \
		    -s 127.0.0.1 -p $((7400 + 10 * i)) -n $BIG -l 0 </dev/null \
		    >/dev/null 2>&1 &
		pids+=($!)
		wait_udp_port hC $((7400 + 10 * i)) || die "mediator did not start"
	done
	for i in "${!pids[@]}"; do ticks0[i]=$(cpu_ticks "${pids[i]}"); done
	t0=$EPOCHREALTIME
	for ((i = 0; i < n; i++)); do
		ip netns exec "$LAB-hC" env LOADGEN_SHARD=$i taskset -c "$i" \
		    "$LG" rate "$ports" 3 $((SCALE_W / n)) >"$tmp/lg.$i" &
		lgs+=($!)
	done
	wait "${lgs[@]}"
	t1=$EPOCHREALTIME
	for i in "${!pids[@]}"; do
		ticks0[i]=$(($(cpu_ticks "${pids[i]}") - ticks0[i]))
	done
	kill "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null
	for ((i = 0; i < n; i++)); do out+=("$(head -1 "$tmp/lg.$i")"); done
	printf '%s\n' "${out[@]}" | awk -v c="${ticks0[*]}" -v hz="$hz" \
	    -v t="$(f "$t1 - $t0")" '{
		for (i = 1; i < NF; i++) if ($i == "cpu_ms") l += $(i + 1)
		r += $6; if (NR == 1) r0 = $6 }
	    END { k = split(c, x, " ")
		for (i = 1; i <= k; i++) { a += x[i]; if (x[i] > m) m = x[i] }
		printf "%s %.3f %.3f %.3f %.3f\n", r, a / hz / t, m / hz / t,
		    r0 / r, l / 1000 / t }' >>"$tmp/so.$tag"
}

# scale_block: REP runs of each arrangement, then their rows (medians):
# one mediator process (CPU 0; the load on CPU 1), two on CPU 0 (the
# load on CPU 1: what splitting the names costs by itself), two on CPUs
# 0 and 1 (the load on either core: there is no third).
scale_block() {
	local i
	: >"$tmp/so.one"
	: >"$tmp/so.two0"
	: >"$tmp/so.two"
	: >"$tmp/so.core1"
	: >"$tmp/so.core2"
	for ((i = 1; i <= REP; i++)); do
		scale_run one 1 0
		scale_run two0 1 0 0
		scale_run two 0,1 0 1
		scale_cores core1 1
		scale_cores core2 2
	done
	scale_rows
}

# sq TAG EXPR: the median over the runs of TAG of an awk expression of
# $1 rate, $2 cpu, $3 busiest, $4 share0, $5 lgcpu.
sq() {
	awk "{ print (\$1 > 0 ? $2 : 0) }" "$tmp/so.$1" >"$tmp/sq"
	q "$tmp/sq" 50
}

scale_rows() {
	local p1 p2 u1 u2 u0 l1 l2 b1 b2
	p1=$(sq one '$1') p2=$(sq two '$1')
	u1=$(sq one '$2 * 1e6 / $1') u2=$(sq two '$2 * 1e6 / $1')
	u0=$(sq two0 '$2 * 1e6 / $1')
	l1=$(sq one '$5 * 1e6 / $1') l2=$(sq two '$5 * 1e6 / $1')
	b1=$(sq one '$1 / $3') b2=$(sq two '$1 / $3')
	row "2 mediator processes: pairs/s" "$(r0 "$p2")" "1 process" "$(r0 "$p1")" "$(ratio "$p2" "$p1")"
	row "  mediator CPU us per pair" "$(r1 "$u2")" "1 process" "$(r1 "$u1")" "$(ratio "$u2" "$u1")"
	row "  ... 2 processes on CPU 0 alone" "$(r1 "$u0")" "1 process" "$(r1 "$u1")" "$(ratio "$u0" "$u1")"
	row "  load generator CPU us per pair" "$(r1 "$l2")" "1 process" "$(r1 "$l1")" "$(ratio "$l2" "$l1")"
	row "  pairs per busiest mediator CPU-s" "$(r0 "$b2")" "1 process, per CPU-s" "$(r0 "$b1")" "$(ratio "$b2" "$b1")"
	row "  names on the first process %" "$(r1 "$(sq two '$4 * 100')")" "" "" ""
	p1=$(sq core1 '$1') p2=$(sq core2 '$1')
	u1=$(sq core1 '$2 * 1e6 / $1') u2=$(sq core2 '$2 * 1e6 / $1')
	row "2 cores, med+load each: pairs/s" "$(r0 "$p2")" "1 core" "$(r0 "$p1")" "$(ratio "$p2" "$p1")"
	row "  mediator CPU us per pair" "$(r1 "$u2")" "1 core" "$(r1 "$u1")" "$(ratio "$u2" "$u1")"
	row "  pairs on the first core %" "$(r1 "$(sq core2 '$4 * 100')")" "" "" ""
	note "(loopback in hC, $SCALE_W pairs in flight, each name on the process pnc's rendezvous"
	note " hashing ranks first. 1 process: CPU 0, the load generator on CPU 1. 2 processes:"
	note " CPUs 0 and 1, the load generator on either, for there is no third core; it costs"
	note " about what a mediator does per pair, so the pairs/s cannot double on 2 cores."
	note " The capacity is the mediators' CPU per pair and the split: two processes on CPU 0"
	note " alone cost what one does; on two cores a pair costs a little more, for the load"
	note " generator moves between them; pairs per busiest CPU-s is what the two give when"
	note " the busier saturates. Last: each core runs a mediator and a load generator"
	note " for the names hashed to it, against one core running both for all names)"
}

# drive CMD...: runs the load on CPU 1; prints "rate cpu dgrams_per_cpu_s
# dgrams_per_op" where cpu is the server's share of a core, the datagrams
# are all the UDP datagrams the server received and sent (hC's
# InDatagrams: what it sends, the load receives), and an op is a
# rendezvous or an echo.
drive() {
	local c0 c1 i0 i1 t0 t1 out
	c0=$(cpu_ticks "$SRV") i0=$(udp_stat hC InDatagrams) t0=$EPOCHREALTIME
	out=$(ip netns exec "$LAB-hC" taskset -c 1 "$@")
	t1=$EPOCHREALTIME i1=$(udp_stat hC InDatagrams) c1=$(cpu_ticks "$SRV")
	awk -v o="$out" -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
	    -v t="$(f "$t1 - $t0")" -v d=$((i1 - i0)) 'BEGIN {
		split(o, w, " "); cpu = c / hz / t
		printf "%s %.2f %.0f %.2f\n", w[6], cpu,
		    (cpu > 0 ? d / (cpu * t) : 0), (w[2] > 0 ? d / w[2] : 0) }'
}

mediator_block() {
	local i n reps r0 r1 out lvl=()
	: >"$tmp/mr"
	: >"$tmp/ff"
	: >"$tmp/mb"
	for ((i = 1; i <= REP; i++)); do
		start_server "$PNC" mediate -s 127.0.0.1 -p 7400 -n $BIG -l 0
		drive "$LG" rate 7400 3 32 >>"$tmp/mr"
		stop_server
		if [[ -n $BASE_PNC ]]; then
			start_server "$BASE_PNC" mediate -s 127.0.0.1 -p 7400 -n $BIG -l 0
			# the base speaks protocol 2
			LOADGEN_VERSION=2 drive "$LG" rate 7400 3 32 >>"$tmp/mb"
			stop_server
		fi
		start_server "$LG" reflect 7400
		drive "$LG" echo 7400 3 32 >>"$tmp/ff"
		stop_server
	done
	awk '{ print $1 }' "$tmp/mr" >"$tmp/c1"
	awk '{ print $2 * 100 }' "$tmp/mr" >"$tmp/c2"
	awk '{ print ($2 > 0 ? $1 / $2 : 0) }' "$tmp/mr" >"$tmp/c3"
	awk '{ print $3 }' "$tmp/mr" >"$tmp/c4"
	awk '{ print $3 }' "$tmp/ff" >"$tmp/c5"
	awk '{ print $2 * 100 }' "$tmp/ff" >"$tmp/c6"
	awk '{ print ($2 > 0 ? $1 / $2 : 0) }' "$tmp/ff" >"$tmp/c7"
	awk '{ print $4 }' "$tmp/mr" >"$tmp/c8"
	# The ceiling for this protocol on this machine: the reflector's
	# datagrams per CPU-second over a rendezvous's datagrams.
	ceil=$(f "$(q "$tmp/c5" 50) / $(q "$tmp/c8" 50)")
	row "rendezvous/s (pairs of clients)" "$(r0 "$(q "$tmp/c1" 50)")" "" "" ""
	row "  server's CPU %" "$(r0 "$(q "$tmp/c2" 50)")" "reflector's CPU %" "$(r0 "$(q "$tmp/c6" 50)")" ""
	row "rendezvous per mediator CPU-s" "$(r0 "$(q "$tmp/c3" 50)")" "reflector dgrams/$(r1 "$(q "$tmp/c8" 50)")" "$(r0 "$ceil")" \
	    "$(ratio "$(q "$tmp/c3" 50)" "$ceil")"
	row "  datagrams per rendezvous" "$(q "$tmp/c8" 50)" "" "" ""
	# The same, with the mediator before issue 16's defences.
	if [[ -s $tmp/mb ]]; then
		awk '{ print ($2 > 0 ? $1 / $2 : 0) }' "$tmp/mb" >"$tmp/c9"
		row "rendezvous per mediator CPU-s" "$(r0 "$(q "$tmp/c3" 50)")" "before defences $BASE" "$(r0 "$(q "$tmp/c9" 50)")" \
		    "$(ratio "$(q "$tmp/c3" 50)" "$(q "$tmp/c9" 50)")"
	else
		note "(no git: the mediator before the defences, $BASE, not measured)"
	fi
	row "datagrams in+out per CPU-s" "$(r0 "$(q "$tmp/c4" 50)")" "UDP reflector (batched)" "$(r0 "$(q "$tmp/c5" 50)")" \
	    "$(ratio "$(q "$tmp/c4" 50)" "$(q "$tmp/c5" 50)")"
	row "  echoes per reflector CPU-s" "$(r0 "$(q "$tmp/c7" 50)")" "" "" ""
	# Resident memory per registration waiting for a peer. A fresh
	# mediator per run (registrations expire after 30 s), warmed up with
	# WARM registrations first, so that the figure is what a registration
	# costs and not the first touch of the receive and reply buffers; its
	# VmRSS before the warm-up is the "fresh mediator" beside it.
	for n in 1000 100000 1000000; do
		reps=$REP
		: >"$tmp/mm"
		: >"$tmp/mf"
		: >"$tmp/m0"
		: >"$tmp/m1"
		for ((i = 1; i <= reps; i++)); do
			start_server "$PNC" mediate -s 127.0.0.1 -p 7400 -n $BIG -l 0
			echo "$(rss "$SRV")" >>"$tmp/m0"
			ip netns exec "$LAB-hC" taskset -c 1 "$LG" fill 7400 $WARM 256 \
			    >/dev/null || note "warm-up: not all registered"
			r0=$(rss "$SRV")
			out=$(ip netns exec "$LAB-hC" taskset -c 1 "$LG" fill 7400 $n 256) ||
			    note "fill $n: not all registered: $out"
			r1=$(rss "$SRV")
			f "($r1 - $r0) * 1024 / $n" >>"$tmp/mm"
			awk '{ print $6 }' <<<"$out" >>"$tmp/mf"
			echo "$r1" >>"$tmp/m1"
			stop_server
		done
		# A loadgen REGISTER: padded to 64 bytes (protocol version 2;
		# unpadded, 12 + 3 + name + 8 would be 31 to 37).
		reg=64
		row "RSS per pending reg @$n (B)" "$(r0 "$(q "$tmp/mm" 50)")" "its REGISTER (B)" "$reg" \
		    "$(ratio "$(q "$tmp/mm" 50)" "$reg")"
		row "  VmRSS @$n (kB)" "$(q "$tmp/m1" 50)" "fresh mediator" "$(q "$tmp/m0" 50)" \
		    "$(ratio "$(q "$tmp/m1" 50)" "$(q "$tmp/m0" 50)")"
		row "  registrations/s while filling" "$(r0 "$(q "$tmp/mf" 50)")" "" "" ""
	done
	note "(after a warm-up of $WARM registrations; VmRSS counts them too)"
}

# ---------------------------------------------------------------------------
# The run

NPROC=$(nproc)
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

lab_up >/dev/null || die "lab_up failed"
# -l 0: the punch trials register faster than the default 20 names/s
# per address.
ip netns exec "$LAB-core" "$PNC" mediate -l 0 -s "$MED1" -s "$MED2" \
    </dev/null >/dev/null 2>"$tmp/med.err" &
disown
wait_udp_port core 7321 || die "mediator did not start"

if only 1; then
echo "bench: 1/5 time to punch, $N trials x 2 paths" >&2
section "1. time to punch (hA, hB behind home NATs; both result lines)"
punch_block 0
punch_block 10
fi

if only 2; then
echo "bench: 2/5 throughput, $MB MB x $REP runs x 3 tools" >&2
head -c $((MB * 1000000)) /dev/urandom >"$tmp/data"
for ((r = 1; r <= REP; r++)); do
	for tool in pnc socat nc; do
		transfer "$tool" "$r"
	done
done
section "2. UDP throughput hB -> hA, $MB MB through a punched hole (receiver's rate)"
ROWS+=("$(printf '%-8s %9s %10s %8s %14s %8s %10s %10s' tool MB/s dgram/s dgram_B arrived_B sent lost rcvbuf_drop)")
for tool in pnc socat nc; do
	[[ -s $tmp/tp.$tool ]] || { note "$tool: no run succeeded"; continue; }
	ROWS+=("$(printf '%-8s %9s %10s %8s %14s %8s %10s %10s' "$tool" \
	    "$(col "$tool" 1)" "$(col "$tool" 2)" "$(col "$tool" 3)" \
	    "$(col "$tool" 4)" "$(col "$tool" 5)" "$(col "$tool" 6)" "$(col "$tool" 7)")")
done
row "pnc MB/s" "$(col pnc 1)" "socat" "$(col socat 1)" "$(ratio "$(col pnc 1)" "$(col socat 1)")"
row "pnc MB/s" "$(col pnc 1)" "nc -u" "$(col nc 1)" "$(ratio "$(col pnc 1)" "$(col nc 1)")"
row "pnc datagrams/s" "$(col pnc 2)" "socat" "$(col socat 2)" "$(ratio "$(col pnc 2)" "$(col socat 2)")"
row "pnc datagrams/s" "$(col pnc 2)" "nc -u" "$(col nc 2)" "$(ratio "$(col pnc 2)" "$(col nc 2)")"
for tool in pnc socat nc; do
	[[ -s $tmp/err.$tool ]] && note "$tool: $(sort -u "$tmp/err.$tool" | head -3 | tr '\n' ' ')"
done
fi

if only 3; then
echo "bench: 3/5 mediator capacity on loopback" >&2
section "3. mediator on loopback, one core (loadgen on the other); -n $BIG"
mediator_block
fi
if only 3 || only 3s; then
echo "bench: 3s/5 scale-out: one mediator process or two" >&2
section "3s. scale-out: 1 mediator process (CPU 0) or 2 (CPUs 0, 1), loopback"
scale_block
fi

if only 4; then
echo "bench: 4/5 footprint" >&2
section "4. footprint"
strip -o "$tmp/pnc.s" "$PNC"
NC=$(readlink -f "$(command -v nc)")
SOCAT=$(readlink -f "$(command -v socat)")
strip -o "$tmp/nc.s" "$NC"
strip -o "$tmp/socat.s" "$SOCAT"
sz() { stat -c %s "$1"; }
row "stripped binary (B)" "$(sz "$tmp/pnc.s")" "nc ($(basename "$NC"))" "$(sz "$tmp/nc.s")" \
    "$(ratio "$(sz "$tmp/pnc.s")" "$(sz "$tmp/nc.s")")"
row "stripped binary (B)" "$(sz "$tmp/pnc.s")" "socat" "$(sz "$tmp/socat.s")" \
    "$(ratio "$(sz "$tmp/pnc.s")" "$(sz "$tmp/socat.s")")"
row "peak VmRSS receiver (kB)" "$(col pnc 8)" "nc -u" "$(col nc 8)" "$(ratio "$(col pnc 8)" "$(col nc 8)")"
row "peak VmRSS sender (kB)" "$(col pnc 9)" "nc -u" "$(col nc 9)" "$(ratio "$(col pnc 9)" "$(col nc 9)")"
row "peak VmRSS receiver (kB)" "$(col pnc 8)" "socat" "$(col socat 8)" "$(ratio "$(col pnc 8)" "$(col socat 8)")"
row "peak VmRSS sender (kB)" "$(col pnc 9)" "socat" "$(col socat 9)" "$(ratio "$(col pnc 9)" "$(col socat 9)")"
fi

echo "bench: 5/5 relay" >&2
# relay_run LAB_OPTS: MB megabytes from hB to hA with -R, the mediator on
# core relaying (-r, no rate cap); prints "seconds mediator-cpu-seconds
# relayed(0/1)".
relay_run() {
	local mpid p t0 t1 c0 c1 pl rel=0
	lab_down 2>/dev/null
	unset LAB
	# shellcheck disable=SC2086
	lab_up $1 >/dev/null || die "lab_up failed"
	ip netns exec "$LAB-core" "$PNC" mediate -s "$MED1" -s "$MED2" -r \
	    -b 1000000000 -l 0 2>/dev/null &
	disown
	wait_udp_port core 7321
	for p in $(ip netns pids "$LAB-core"); do
		[[ $(cat "/proc/$p/comm" 2>/dev/null) == pnc ]] && mpid=$p
	done
	c0=$(awk '{ print $14 + $15 }' "/proc/$mpid/stat")
	t0=${EPOCHREALTIME/./}
	ip netns exec "$LAB-hA" "$PNC" listen -R -m "$MED1" -w 30 rb \
	    </dev/null >"$tmp/relay.out" 2>"$tmp/relay.l" &
	pl=$!
	ip netns exec "$LAB-hB" "$PNC" connect -R -m "$MED1" -w 30 rb \
	    <"$tmp/relay.in" 2>"$tmp/relay.c"
	wait "$pl"
	t1=${EPOCHREALTIME/./}
	c1=$(awk '{ print $14 + $15 }' "/proc/$mpid/stat")
	kill "$mpid"
	cmp -s "$tmp/relay.in" "$tmp/relay.out" || echo "bench: relay run: data differ" >&2
	grep -q 'relayed by the mediator' "$tmp/relay.l" && rel=1
	echo "$(f "($t1 - $t0) / 1e6") $(f "($c1 - $c0) / $(getconf CLK_TCK)") $rel"
}
if only 5; then
head -c $((MB * 1000000)) /dev/urandom >"$tmp/relay.in"
: >"$tmp/rr"
: >"$tmp/dr"
for ((r = 1; r <= REP; r++)); do
	relay_run "--nat-a symmetric --nat-b symmetric" >>"$tmp/rr"
	relay_run "" >>"$tmp/dr"
done
# Medians of the time and of the mediator's CPU; relayed: in every run.
awk '{ print $1 }' "$tmp/rr" >"$tmp/c1"; rs=$(q "$tmp/c1" 50)
awk '{ print $2 }' "$tmp/rr" >"$tmp/c2"; rc=$(q "$tmp/c2" 50)
awk '{ print $1 }' "$tmp/dr" >"$tmp/c3"; ds=$(q "$tmp/c3" 50)
rr=$(awk '{ n += $3 } END { print n }' "$tmp/rr")/$REP
dr=$(awk '{ n += 1 - $3 } END { print n }' "$tmp/dr")/$REP
section "5. relay (mediate -r): $MB MB one way with -R, hB -> hA"
row "relayed MB/s (both NATs symmetric)" "$(r1 "$(f "$MB / $rs")")" "direct (home NATs)" \
    "$(r1 "$(f "$MB / $ds")")" "$(ratio "$(f "$MB / $rs")" "$(f "$MB / $ds")")"
row "  runs relayed / runs direct" "$rr" "" "$dr" ""
row "mediator CPU ms per relayed MB" "$(r1 "$(f "$rc * 1000 / $MB")")" "" "" ""
fi

ELAPSED=$(f "(${EPOCHREALTIME/./} - $START) / 1e6")
# table: what RESULTS holds, from the rows gathered above.
table() {
	printf 'pnc bench, %s: %s cores (nproc), %s, kernel %s\n' \
	    "$(date -u +%F)" "$NPROC" "$CPU" "$(uname -r)"
	printf 'N=%s punch trials per path, %s MB, medians of %s runs; %.0f s\n' \
	    "$N" "$MB" "$REP" "$ELAPSED"
	printf '%-34s %12s  %-22s %12s %8s\n' metric pnc "compared with" value ratio
	printf '%s\n' "${ROWS[@]}"
}
table | tee "$tmp/table"
if [[ ${RESULTS:-} == update ]]; then
	results_update bench "$tmp/table" || exit 1
fi
