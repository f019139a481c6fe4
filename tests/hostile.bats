#!/usr/bin/env bats
#
# The mediator against a hostile internet (protocol version 3): a
# registration flood from one address (rate limit, error 4), a flood that
# would fill the table (one address's share, -n / 64: error 4), a flood
# from sources that never receive
# (no cookie: forged addresses), every kind of request from a source
# that has shown no cookie (no reply may be larger than its request), and
# the per-address rate limit itself. hA floods from behind NAT A; hB
# (behind NAT B) and hP (public, no NAT) are the legitimate clients.
# tests/loadgen.c floods (loadgen flood) and captures replies (loadgen
# amp); each test has a mediator of its own on core. STUN's table, and the
# attacks that need forged or many sources, are in medattack.bats.

load helpers

# The mediator's peak resident memory (VmHWM) under each flood must stay
# below this: an idle mediator is about 2 MB, its table of 1000 names
# (second test) about 1 MB more, its default table's buckets 0.5 MB.
RSS_CAP_KB=16384
FLOOD=100000		# names per flood
FLOOD_SECS=20		# the most a flood may take (it takes a few seconds)

setup_file() {
	lab_up --public-host >/dev/null
	LG=$BATS_FILE_TMPDIR/loadgen
	cc -O2 -std=c11 -Wall -Wextra -o "$LG" "$BATS_TEST_DIRNAME/loadgen.c"
	export LG
}

teardown_file() {
	lab_down
}

# Each test's mediator is gone before the next one binds the port.
teardown() {
	lab_reset
	[[ -z ${MED_PID-} ]] || wait_for 5 lab_pid_dead "$MED_PID" || true
}

MLOG=$BATS_FILE_TMPDIR/med.log	# start_mediator's log

# med_pid: the pid of the pnc mediator itself. MED_PID is that of the
# `ip netns exec` that started it, which execs pnc; should it not have,
# the pnc process in core's namespace is the one.
med_pid() {
	local p
	if [[ $(cat "/proc/$MED_PID/comm" 2>/dev/null) == pnc ]]; then
		echo "$MED_PID"
		return 0
	fi
	for p in $(ip netns pids "$LAB-core"); do
		if [[ $(cat "/proc/$p/comm" 2>/dev/null) == pnc ]]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# kb PID FIELD: a /proc/PID/status field in kB (VmRSS, VmHWM).
kb() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# kv KEY FILE: the value after the word KEY in FILE ("key value" words).
kv() {
	awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) {
	    print $(i + 1); exit } }' "$2"
}

# stop_mediator: SIGTERM, wait for its end; the log then ends with the
# "stats:" line (print_stats). Prints that line.
stop_mediator() {
	kill -TERM "$MED_PID"
	wait_for 5 lab_pid_dead "$MED_PID"
	grep 'stats:' "$MLOG"
}

# flood NODE TAG COUNT cookie|nocookie: a flood in the foreground, its
# "key value" line in $T/TAG.out.
flood() {
	ip netns exec "$LAB-$1" "$LG" flood "$MED1" "$MPORT" "$3" \
	    "$FLOOD_SECS" "$4" >"$T/$2.out" 2>"$T/$2.err" 3>&-
}

memory() {
	HWM=$(kb "$1" VmHWM)
	RSS=$(kb "$1" VmRSS)
	echo "# mediator VmRSS $RSS kB, peak (VmHWM) $HWM kB; cap $RSS_CAP_KB kB" >&3
}

@test "flood: 100000 registrations from one address are refused (error 4), a pair meets meanwhile, memory bounded" {
	start_mediator		# the default limit, 20 names/s per address
	pid=$(med_pid)
	bgrun hA flood "$LG" flood "$MED1" "$MPORT" "$FLOOD" "$FLOOD_SECS" cookie
	wait_for 5 grep -q flooding "$T/flood.err"
	n=$(uname_)
	bgrun hB b "$PNC" punch -m "$MED1" -w 10 "$n"
	bgrun hP p "$PNC" punch -m "$MED1" -w 10 "$n"
	wait_tag b 15; rcb=$RC
	wait_tag p 15; rcp=$RC
	during=0
	kill -0 "${PIDS[flood]}" 2>/dev/null && during=1
	wait_tag flood $((FLOOD_SECS + 5)); rcf=$RC
	memory "$pid"
	echo "# flood: $(cat "$T/flood.out")" >&3
	echo "# the pair had met before the flood ended: $during" >&3
	show b p flood
	[ "$rcb" -eq 0 ]
	[ "$rcp" -eq 0 ]
	grep -Eq '^[0-9]+ [0-9.]+ [0-9]+$' "$T/b.out"
	grep -Eq '^[0-9]+ [0-9.]+ [0-9]+$' "$T/p.out"
	[ "$during" -eq 1 ]
	[ "$rcf" -eq 0 ]
	[ "$(kv names "$T/flood.out")" -eq "$FLOOD" ]
	# Most of the flood refused for its rate: at least 90%. What passes
	# is the burst (20) and 20/s after it (loadgen's secs, rounded up).
	[ "$(kv err4 "$T/flood.out")" -ge $((FLOOD * 9 / 10)) ]
	secs=$(kv secs "$T/flood.out")
	[ "$(kv registered "$T/flood.out")" -le $((20 + 20 * (${secs%.*} + 1))) ]
	[ "$(kv err2 "$T/flood.out")" -eq 0 ]
	[ "$HWM" -lt "$RSS_CAP_KB" ]
}

@test "flood without rate limit holds one address's share of the table (-n 1000: 15 names), error 4; others meet; NAT check answered" {
	start_mediator -l 0 -n 1000
	pid=$(med_pid)
	flood hA flood "$FLOOD" cookie
	memory "$pid"
	echo "# flood: $(cat "$T/flood.out")" >&3
	cat "$T/flood.err"
	[ "$(kv names "$T/flood.out")" -eq "$FLOOD" ]
	# One address holds at most 1/64 of the table (at least 8 names),
	# refreshed or not: 15 of 1000 (medattack.bats has the /64 and /48).
	[ "$(kv registered "$T/flood.out")" -le 15 ]
	[ "$(kv registered "$T/flood.out")" -ge 10 ]
	[ "$(kv err4 "$T/flood.out")" -ge $(((FLOOD - 15) * 9 / 10)) ]
	[ "$(kv err2 "$T/flood.out")" -eq 0 ]
	[ "$HWM" -lt "$RSS_CAP_KB" ]
	# The NAT check needs no table entry: it still works.
	run ip netns exec "$LAB-hB" "$PNC" punch -m "$MED1" -w 5
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"nat yes"* ]]
	# Other addresses still meet ...
	n=$(uname_)
	bgrun hB b "$PNC" punch -m "$MED1" -w 10 "$n"
	bgrun hP p "$PNC" punch -m "$MED1" -w 10 "$n"
	wait_tag b 15; [ "$RC" -eq 0 ]
	wait_tag p 15; [ "$RC" -eq 0 ]
	# ... and the flooding address is refused, and told why.
	run ip netns exec "$LAB-hA" "$PNC" punch -m "$MED1" -w 1 "$(uname_)"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"too many names from your network"* ]]
}

@test "flood without cookies (forged sources): no registration, no reply larger than its request" {
	# No rate limit: the cookie alone keeps the table empty.
	start_mediator -l 0
	pid=$(med_pid)
	flood hA flood "$FLOOD" nocookie
	memory "$pid"
	echo "# flood: $(cat "$T/flood.out")" >&3
	stats=$(stop_mediator)
	echo "# $stats" >&3
	[ "$(kv names "$T/flood.out")" -eq "$FLOOD" ]
	[ "$(kv registered "$T/flood.out")" -eq 0 ]
	[ "$(kv rx_registered "$T/flood.out")" -eq 0 ]
	# What it drew was the cookie, for (nearly) every name.
	[ "$(kv cookie "$T/flood.out")" -ge $((FLOOD * 9 / 10)) ]
	[ "$(kv over "$T/flood.out")" -eq 0 ]
	[ "$(kv max_reply "$T/flood.out")" -le "$(kv max_request "$T/flood.out")" ]
	[ "$(kv bytes_received "$T/flood.out")" -le "$(kv bytes_sent "$T/flood.out")" ]
	[[ $stats == *" 0 registered,"* ]]
	[[ $stats == *" 0 names now"* ]]
	[ "$HWM" -lt "$RSS_CAP_KB" ]
}

@test "amplification: no request from an unverified source draws a reply larger than itself" {
	# Two addresses, so that BIND can ask for the other one; from hP,
	# which has no NAT to drop answers from the other address or port.
	start_mediator -s "$MED1" -s "$MED2"
	run ip netns exec "$LAB-hP" "$LG" amp "$MED1" "$MPORT"
	printf '# %s\n' "${lines[@]}" >&3
	stats=$(stop_mediator)
	echo "# $stats" >&3
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "over 0" ]
	# Every reply no larger than its request, case by case.
	echo "$output" | awk '$1 == "case" { n++; if ($10 > $6) bad = 1 }
	    END { exit bad || n < 20 }'
	# The helper does see replies: these requests are answered ...
	for c in register-zero-cookie register-zero-cookie-alt \
	    register-forged-cookie register-8-locals bind-64 bind-64-port \
	    bind-64-addr bind-64-port-addr v4-64; do
		echo "$output" | grep -Eq "^case $c port \S+ request [0-9]+ replies [1-9]"
	done
	# ... and these are not: malformed, or (version 1) the answer would
	# be larger than the request, so it is withheld.
	for c in register-unpadded register-truncated-15 register-truncated-22 \
	    register-bad-padding register-zero-id bind-17 bind-63 v1-header \
	    v1-register v1-bind peerack type-7f registered garbage-64 \
	    garbage-pn-1400 empty; do
		echo "$output" | grep -Eq "^case $c port \S+ request [0-9]+ replies 0 "
	done
	[[ $stats == *" 0 registered,"* ]]
	[[ $stats == *" 3 answer(s) withheld"* ]]
}

@test "rate limit -l 5: of a burst of 50 names from one address about 5 pass, the rest get error 4; another address is served" {
	start_mediator -l 5
	flood hA flood 50 cookie
	echo "# flood: $(cat "$T/flood.out")" >&3
	ok=$(kv registered "$T/flood.out")
	[ "$ok" -ge 1 ]
	[ "$ok" -le 10 ]
	[ "$(kv err4 "$T/flood.out")" -ge 40 ]
	[ "$(kv lost "$T/flood.out")" -eq 0 ]
	# At once, from two other addresses: a pair meets.
	n=$(uname_)
	bgrun hB b "$PNC" punch -m "$MED1" -w 10 "$n"
	bgrun hP p "$PNC" punch -m "$MED1" -w 10 "$n"
	wait_tag b 15; rcb=$RC
	wait_tag p 15; rcp=$RC
	show b p
	[ "$rcb" -eq 0 ]
	[ "$rcp" -eq 0 ]
	grep -Eq '^[0-9]+ [0-9.]+ [0-9]+$' "$T/b.out"
	grep -Eq '^[0-9]+ [0-9.]+ [0-9]+$' "$T/p.out"
}

@test "a client refused for the rate limit keeps trying within -w and gets through; past -w it says why" {
	start_mediator -l 1
	# Three pairs at once: each address gets one registration a second,
	# so most clients are refused at first and must retry.
	for i in 1 2 3; do
		n[$i]=$(uname_)-$i
		bgrun hA "a$i" "$PNC" punch -v -m "$MED1" -w 10 "${n[$i]}"
		bgrun hB "b$i" "$PNC" punch -v -m "$MED1" -w 10 "${n[$i]}"
	done
	for i in 1 2 3; do
		wait_tag "a$i" 15; [ "$RC" -eq 0 ] || { show "a$i"; false; }
		wait_tag "b$i" 15; [ "$RC" -eq 0 ] || { show "b$i"; false; }
		grep -Eq '^[0-9]+ [0-9.]+ [0-9]+$' "$T/a$i.out"
	done
	cat "$T"/a?.err "$T"/b?.err | grep -q 'too many registrations from your address, try later; retrying'
	# A client that stays refused until -w ends: exit 1 and the reason.
	lab_exec hA "$PNC" punch -m "$MED1" -w 0.3 "x1-$RANDOM" || true
	run lab_exec hA "$PNC" punch -m "$MED1" -w 0.3 "x2-$RANDOM"
	[ "$status" -eq 1 ]
	[[ "$output" == *"mediator refused: too many registrations from your address"* ]]
}
