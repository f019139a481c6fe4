# shellcheck shell=bash
#
# helpers.bash - what pnc's bats files share on top of lab.bash.

load lab

PNC=${PNC:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)/pnc}
MPORT=7321

# start_mediator [ARGS...]: a verbose mediator on core, log in $T/med.log.
start_mediator() {
	lab_bg core "$BATS_FILE_TMPDIR/med.log" "$PNC" mediate -v "$@"
	export MED_PID=$LAB_BG_PID
	wait_udp_port core "${MED_PORT:-$MPORT}" 5
}

# lab OPTS...: a lab variant of its own for one test (torn down by the
# file's teardown), with a mediator on both core addresses.
lab() {
	lab_up "$@" >/dev/null
	lab_bg core "$T/med.log" "$PNC" mediate -v -s "$MED1" -s "$MED2"
	wait_udp_port core "$MPORT"
}

# send_dgrams NODE DST PORT [SIZE]: stdin, from NODE to DST:PORT ([ ]
# around an IPv6 DST) as one datagram, or as datagrams of SIZE bytes
# each (the last may be shorter). stdin goes to a file first: a read of
# a pipe returns what the writer has written so far, so socat reading
# one would cut a message written in two writes into two datagrams, or
# join many messages into one, depending on the timing; a read of a
# regular file returns all it asks for.
send_dgrams() {
	local node=$1 dst=$2 port=$3 size=${4-} f
	f=$(mktemp "$BATS_TEST_TMPDIR/dgrams.XXXXXX")
	cat >"$f"
	size=${size:-$(stat -c %s "$f")}
	if ((size > 0)); then
		ip netns exec "$LAB-$node" socat -u -b "$size" "OPEN:$f" \
		    "UDP-SENDTO:$dst:$port" || { rm -f "$f"; return 1; }
	fi
	rm -f "$f"
}

# Conditions for wait_for, which runs its command again at each try: a
# "$(...)" among wait_for's own arguments is expanded once, before the
# first try, so `wait_for 5 test "$(stat ...)" -ge N` never sees a change
# (size_ge, lab.bash, is one).

# lines_cmp OP N PATTERN FILE: the count of FILE's lines matching PATTERN
# (grep -c) compares to N with test's OP (-eq, -ge).
lines_cmp() {
	local n
	n=$(grep -c -- "$3" "$4" 2>/dev/null) || true
	[ "${n:-0}" "$1" "$2" ]
}

# A name no other test in the run uses.
uname_() {
	echo "t${BATS_TEST_NUMBER}-$RANDOM"
}

# bgrun NODE TAG CMD... : CMD in NODE with stdout/stderr in $T/TAG.out and
# $T/TAG.err; its pid in $TAG_pid (via the PIDS array by tag).
declare -gA PIDS
bgrun() {
	local node=$1 tag=$2
	shift 2
	ip netns exec "$LAB-$node" "$@" >"$T/$tag.out" 2>"$T/$tag.err" 3>&- &
	PIDS[$tag]=$!
}

# bgrun_in NODE TAG INFILE CMD... : as bgrun, stdin from INFILE.
bgrun_in() {
	local node=$1 tag=$2 in=$3
	shift 3
	ip netns exec "$LAB-$node" "$@" <"$in" >"$T/$tag.out" \
	    2>"$T/$tag.err" 3>&- &
	PIDS[$tag]=$!
}

# wait_tag TAG [TIMEOUT]: wait for a background run; its status in $RC.
# A run still alive after TIMEOUT (default 30 s) is killed: status 124.
wait_tag() {
	local pid=${PIDS[$1]} t=${2:-30}
	if ! wait_for "$t" _dead "$pid"; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		RC=124
		return 0
	fi
	RC=0
	wait "$pid" || RC=$?
}

# wait_pair [SECS]: connect's (tag c) exit status in RC, listen's (l)
# in RL, each waited for at most SECS (30).
wait_pair() {
	local rc
	wait_tag c "${1:-30}"; rc=$RC
	wait_tag l "${1:-30}"; RL=$RC
	RC=$rc
}

_dead() {
	! kill -0 "$1" 2>/dev/null
}

sum() {
	sha256sum <"$1" | cut -d' ' -f1
}

randfile() {
	head -c "$2" /dev/urandom >"$1"
}

# show TAG...: print a run's stderr, for the log of a failed test.
show() {
	local t
	for t in "$@"; do
		echo "--- $t.err"
		cat "$T/$t.err" 2>/dev/null
	done
}

setup() {
	T=$BATS_TEST_TMPDIR
}
