#!/usr/bin/env bats
#
# The core through real NAT: hA behind rA, hB behind rB (both home
# routers: masquerade, unsolicited input dropped), hC on hA's LAN, and
# one mediator on core serving every test of this file.

load helpers

setup_file() {
	lab_up
	start_mediator
}

teardown_file() {
	lab_down
}

# Both sides' result lines: "LOCALPORT PEERADDR PEERPORT".
@test "punch prints the result line on both sides across two NATs" {
	n=$(uname_)
	bgrun hA a "$PNC" punch -m "$MED1" -w 10 "$n"
	bgrun hB b "$PNC" punch -m "$MED1" -w 10 "$n"
	wait_tag a; rca=$RC
	wait_tag b; rcb=$RC
	show a b
	[ "$rca" -eq 0 ]
	[ "$rcb" -eq 0 ]
	[ "$(wc -l <"$T/a.out")" -eq 1 ]
	[ "$(wc -l <"$T/b.out")" -eq 1 ]
	read -r la pa ppa <"$T/a.out"
	read -r lb pb ppb <"$T/b.out"
	[[ "$(cat "$T/a.out")" =~ ^[0-9]+\ [0-9.]+\ [0-9]+$ ]]
	# Each sees the other's NAT, not its private address.
	[ "$pa" = "$WAN_B" ]
	[ "$pb" = "$WAN_A" ]
	# masquerade keeps ports here, so the public port is the local one.
	[ "$ppa" = "$lb" ]
	[ "$ppb" = "$la" ]
}

# The article's recipe: set -- $(pnc punch ...); nc -u -p $1 $2 $3.
@test "plain OpenBSD nc -u carries data both ways through a punched hole" {
	n=$(uname_)
	bgrun hA a "$PNC" punch -m "$MED1" "$n"
	bgrun hB b "$PNC" punch -m "$MED1" "$n"
	wait_tag a; [ "$RC" -eq 0 ]
	wait_tag b; [ "$RC" -eq 0 ]
	set -- $(cat "$T/a.out")
	la=$1 pa=$2 ppa=$3
	set -- $(cat "$T/b.out")
	lb=$1 pb=$2 ppb=$3
	randfile "$T/da" 900
	randfile "$T/db" 900
	mkfifo "$T/fa" "$T/fb"
	# <> keeps the fifo open without a writer, so nc starts at once;
	# both bind before either sends (nc -u quits on ICMP unreachable).
	ip netns exec "$LAB-hA" nc -u -p "$la" "$pa" "$ppa" <>"$T/fa" \
	    >"$T/na" 2>&1 3>&- &
	na=$!
	ip netns exec "$LAB-hB" nc -u -p "$lb" "$pb" "$ppb" <>"$T/fb" \
	    >"$T/nb" 2>&1 3>&- &
	nb=$!
	wait_udp_port hA "$la"
	wait_udp_port hB "$lb"
	cat "$T/da" >"$T/fa"
	cat "$T/db" >"$T/fb"
	wait_for 10 size_ge "$T/nb" 900 || true
	wait_for 10 size_ge "$T/na" 900 || true
	kill "$na" "$nb"
	[ "$(sum "$T/na")" = "$(sum "$T/db")" ]
	[ "$(sum "$T/nb")" = "$(sum "$T/da")" ]
}

@test "listen/connect carry binary data both ways across two NATs" {
	n=$(uname_)
	randfile "$T/da" 300000
	randfile "$T/db" 200000
	bgrun_in hA l "$T/da" "$PNC" listen -m "$MED1" -w 10 "$n"
	# As with nc -l, the listener stops once the connector's input has
	# ended: so the connector's input ends only after all of da came.
	{ cat "$T/db"; wait_for 20 size_ge "$T/c.out" 300000; } |
	    ip netns exec "$LAB-hB" "$PNC" connect -m "$MED1" -w 10 "$n" \
	    >"$T/c.out" 2>"$T/c.err" 3>&- &
	PIDS[c]=$!
	wait_tag l; rcl=$RC
	wait_tag c; rcc=$RC
	show l c
	[ "$rcl" -eq 0 ]
	[ "$rcc" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/db")" ]
	[ "$(sum "$T/c.out")" = "$(sum "$T/da")" ]
}

@test "like nc -l, the listener ends when the connector's input ends" {
	n=$(uname_)
	mkfifo "$T/in"
	# the listener's stdin stays open: it ends because the connector did
	ip netns exec "$LAB-hA" "$PNC" listen -m "$MED1" "$n" <>"$T/in" \
	    >"$T/l.out" 2>"$T/l.err" 3>&- &
	PIDS[l]=$!
	echo "request" >"$T/req"
	bgrun_in hB c "$T/req" "$PNC" connect -m "$MED1" -w 10 "$n"
	wait_tag l; rcl=$RC
	wait_tag c; rcc=$RC
	show l c
	[ "$rcl" -eq 0 ]
	[ "$rcc" -eq 0 ]
	[ "$(cat "$T/l.out")" = "request" ]
}

@test "a one-way file transfer ends by itself on both sides with exit 0" {
	n=$(uname_)
	randfile "$T/f" 1000000
	bgrun_in hA l /dev/null "$PNC" listen -m "$MED1" "$n"
	bgrun_in hB c "$T/f" "$PNC" connect -m "$MED1" "$n"
	wait_tag c; rcc=$RC
	wait_tag l; rcl=$RC
	show l c
	[ "$rcc" -eq 0 ]
	[ "$rcl" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
	[ ! -s "$T/c.out" ]
}

# As nc -u: a read is a datagram (a line from a slow writer), and a read
# longer than 1200 bytes (a file) is cut into datagrams of 1200 and the
# rest; the counts are the senders' and receivers' own (-v).
@test "a slow writer's lines are a datagram each; a file is cut into 1200-byte datagrams" {
	n=$(uname_)
	randfile "$T/f" 5000
	mkfifo "$T/in"
	bgrun_in hA l "$T/f" "$PNC" listen -v -m "$MED1" -w 10 "$n"
	ip netns exec "$LAB-hB" "$PNC" connect -v -m "$MED1" -w 10 "$n" \
	    <"$T/in" >"$T/c.out" 2>"$T/c.err" 3>&- &
	PIDS[c]=$!
	{
		for w in one two three; do
			echo "$w"
			wait_for 10 grep -qx "$w" "$T/l.out"
		done
		wait_for 10 size_ge "$T/c.out" 5000
	} >"$T/in"
	wait_tag l; rcl=$RC
	wait_tag c; rcc=$RC
	show l c
	[ "$rcl" -eq 0 ]
	[ "$rcc" -eq 0 ]
	[ "$(cat "$T/l.out")" = "$(printf 'one\ntwo\nthree')" ]
	[ "$(sum "$T/c.out")" = "$(sum "$T/f")" ]
	grep -q "end of input after 3 datagram(s), 14 bytes" "$T/c.err"
	grep -q "peer's end of input after 3 datagram(s)" "$T/l.err"
	grep -q "end of input after 5 datagram(s), 5000 bytes" "$T/l.err"
	grep -q "peer's end of input after 5 datagram(s)" "$T/c.err"
}

@test "the listener sends a file to connect -d" {
	n=$(uname_)
	randfile "$T/f" 500000
	bgrun_in hA l "$T/f" "$PNC" listen -m "$MED1" "$n"
	bgrun hB c "$PNC" connect -d -m "$MED1" "$n"
	wait_tag l; rcl=$RC
	wait_tag c; rcc=$RC
	show l c
	[ "$rcc" -eq 0 ]
	[ "$rcl" -eq 0 ]
	[ "$(sum "$T/c.out")" = "$(sum "$T/f")" ]
}

@test "two hosts behind one NAT without hairpin meet on local endpoints" {
	n=$(uname_)
	bgrun hA a "$PNC" punch -v -m "$MED1" -w 10 "$n"
	bgrun hC b "$PNC" punch -v -m "$MED1" -w 10 "$n"
	wait_tag a; rca=$RC
	wait_tag b; rcb=$RC
	show a b
	[ "$rca" -eq 0 ]
	[ "$rcb" -eq 0 ]
	read -r la pa ppa <"$T/a.out"
	read -r lb pb ppb <"$T/b.out"
	[ "$pa" = "$HC" ]
	[ "$ppa" = "$lb" ]
	[ "$pb" = "$HA" ]
	[ "$ppb" = "$la" ]
	# and data flows over it
	n=$(uname_)
	randfile "$T/f" 100000
	bgrun_in hC l /dev/null "$PNC" listen -m "$MED1" "$n"
	bgrun_in hA c "$T/f" "$PNC" connect -m "$MED1" -w 10 "$n"
	wait_tag c; [ "$RC" -eq 0 ]
	wait_tag l; [ "$RC" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
}

@test "start order does not matter: connect first, then listen" {
	n=$(uname_)
	randfile "$T/f" 50000
	bgrun_in hB c "$T/f" "$PNC" connect -m "$MED1" -w 15 "$n"
	# the listener starts only once the connector is registered
	wait_for 5 grep -q "registered $n role 3" "$BATS_FILE_TMPDIR/med.log"
	bgrun_in hA l /dev/null "$PNC" listen -m "$MED1" "$n"
	wait_tag c; rcc=$RC
	wait_tag l; rcl=$RC
	show l c
	[ "$rcc" -eq 0 ]
	[ "$rcl" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
}

@test "datagrams from a stranger never reach stdout" {
	n=$(uname_)
	# an interactive listener: stdin stays open until the test ends
	mkfifo "$T/in"
	ip netns exec "$LAB-hA" "$PNC" listen -v -m "$MED1" -p 40000 "$n" \
	    <>"$T/in" >"$T/l.out" 2>"$T/l.err" 3>&- &
	PIDS[l]=$!
	randfile "$T/f" 200000
	bgrun_in hB c "$T/f" "$PNC" connect -m "$MED1" "$n"
	wait_for 5 grep -q "session open" "$T/l.err"
	# hC, on hA's LAN, sprays well-formed DATA and EOF from other ids
	for i in $(seq 50); do
		printf 'PN\003\040\001\002\003\004\005\006\007\010\000\000\000\001EVIL' |
		    lab_exec hC socat -u - "udp-sendto:$HA:40000" 2>/dev/null
	done
	printf 'PN\003\041\001\002\003\004\005\006\007\010\000\000\000\000' |
	    lab_exec hC socat -u - "udp-sendto:$HA:40000"
	wait_tag c; rcc=$RC
	wait_tag l; rcl=$RC
	show l c
	[ "$rcc" -eq 0 ]
	[ "$rcl" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
}

@test "an unreachable mediator gives exit 1 within -w" {
	start=$EPOCHREALTIME
	run lab_exec hA "$PNC" connect -m 203.0.113.99 -w 1 x
	end=$EPOCHREALTIME
	[ "$status" -eq 1 ]
	[[ "$output" == *"mediator 203.0.113.99:7321 did not answer"* ]]
	# within -w, give or take scheduling
	(( ${end/./} - ${start/./} < 3000000 ))
}

@test "no peer within -w: exit 1 and says so" {
	run lab_exec hA "$PNC" punch -m "$MED1" -w 0.5 "$(uname_)"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no peer came for"* ]]
}

@test "a peer that vanishes mid-session ends the session with exit 1" {
	n=$(uname_)
	mkfifo "$T/ia" "$T/ib"
	PNC_KEEPALIVE=0.2 ip netns exec "$LAB-hA" "$PNC" listen -m "$MED1" \
	    "$n" <>"$T/ia" >"$T/l.out" 2>"$T/l.err" 3>&- &
	PIDS[l]=$!
	PNC_KEEPALIVE=0.2 ip netns exec "$LAB-hB" "$PNC" connect -v \
	    -m "$MED1" "$n" <>"$T/ib" >"$T/c.out" 2>"$T/c.err" 3>&- &
	PIDS[c]=$!
	wait_for 5 grep -q "session open" "$T/c.err"
	echo ping >"$T/ia"
	wait_for 5 grep -q ping "$T/c.out"
	kill -9 "${PIDS[l]}"
	wait_tag c 10
	show c
	[ "$RC" -eq 1 ]
	grep -q "peer silent for" "$T/c.err"
}

@test "a second listener on a name in use is refused with exit 1" {
	n=$(uname_)
	bgrun hA l "$PNC" listen -m "$MED1" -w 5 "$n"
	wait_for 5 grep -q "registered $n role 2" "$BATS_FILE_TMPDIR/med.log"
	run lab_exec hB "$PNC" listen -m "$MED1" -w 5 "$n"
	kill "${PIDS[l]}"
	[ "$status" -eq 1 ]
	[[ "$output" == *"mediator refused: name in use"* ]]
}

@test "a mediator that starts late still introduces the pair" {
	n=$(uname_)
	randfile "$T/f" 10000
	bgrun_in hA l /dev/null "$PNC" listen -m "$MED2:7400" -p 41000 \
	    -w 15 "$n"
	bgrun_in hB c "$T/f" "$PNC" connect -m "$MED2:7400" -p 41001 \
	    -w 15 "$n"
	# both have bound, so their first registration is already lost
	wait_udp_port hA 41000
	wait_udp_port hB 41001
	lab_bg core "$T/med2.log" "$PNC" mediate -p 7400 -s "$MED2"
	mp=$LAB_BG_PID
	wait_tag c; rcc=$RC
	wait_tag l; rcl=$RC
	kill "$mp"
	show l c
	[ "$rcc" -eq 0 ]
	[ "$rcl" -eq 0 ]
	[ "$(sum "$T/l.out")" = "$(sum "$T/f")" ]
}

@test "the mediator answers from the address it was reached at" {
	# MED2 is the core's second address; the reply must come from it or
	# rA's NAT drops it. A pair meeting via MED2 proves the source.
	n=$(uname_)
	bgrun hA a "$PNC" punch -m "$MED2" -w 10 "$n"
	bgrun hB b "$PNC" punch -m "$MED2" -w 10 "$n"
	wait_tag a; [ "$RC" -eq 0 ]
	wait_tag b; [ "$RC" -eq 0 ]
}

@test "garbage, truncated, oversized and wrong-version datagrams leave the mediator serving" {
	before=$(grep -c 'dropped datagram' "$BATS_FILE_TMPDIR/med.log" || true)
	send() { send_dgrams hA "$MED1" "$MPORT"; }	# stdin, one datagram
	head -c 100 /dev/urandom | send				# garbage
	printf 'PN' | send					# truncated header
	# v2 REGISTERs: header, role, name, candidates, cookie, zero padding
	reg() { { printf "PN\003\001\0\0\0\0\0\0\0\001$1"; head -c "${2:-64}" /dev/zero; } | send; }
	reg '\002\012abc'				# name cut short (padding read as name)
	reg '\002\000'					# empty name
	reg '\002\001x\310'				# 200 candidates
	reg '\002\001x\001\011\0\0'			# bad family
	reg '\002\001x\000' 20				# not padded to 64 bytes
	{ printf 'PN\003\001\0\0\0\0\0\0\0\001\002\001x\000'; head -c 60 /dev/zero; printf junk; } | send # non-zero padding
	{ printf 'PN\003\177\0\0\0\0\0\0\0\001'; head -c 60 /dev/zero; } | send	# unknown type
	{ printf 'PN\003\001\0\0\0\0\0\0\0\000\002\001x\000'; head -c 60 /dev/zero; } | send	# zero id
	head -c 3000 /dev/zero | send				# oversized
	# another version gets an error saying which version this one speaks,
	# when it is long enough to cover the answer (no amplification) ...
	# (from a file: socat's one read of it is the whole message, where
	# a pipe could give it the header and the padding apart)
	{ printf 'PN\001\001\0\0\0\0\0\0\0\001'; head -c 100 /dev/zero; } >"$T/v1"
	run lab_exec hA socat -t 2 - "udp:$MED1:$MPORT" <"$T/v1"
	[[ "$output" == *"protocol version 3"* ]]
	# ... and nothing when it is not
	printf 'PN\001\001\0\0\0\0\0\0\0\001' >"$T/v1short"
	run lab_exec hA socat -t 1 - "udp:$MED1:$MPORT" <"$T/v1short"
	[ -z "$output" ]
	wait_for 5 lines_cmp -ge $((before + 13)) 'dropped datagram' \
	    "$BATS_FILE_TMPDIR/med.log"
	kill -0 "$MED_PID"
	# and it still serves the next pair
	n=$(uname_)
	bgrun hA a "$PNC" punch -m "$MED1" -w 10 "$n"
	bgrun hB b "$PNC" punch -m "$MED1" -w 10 "$n"
	wait_tag a; [ "$RC" -eq 0 ]
	wait_tag b; [ "$RC" -eq 0 ]
}

@test "one mediator serves many pairs at once" {
	for i in $(seq 20); do
		n[$i]="many-$i-$RANDOM"
		bgrun hA "a$i" "$PNC" punch -m "$MED1" -w 20 "${n[$i]}"
	done
	for i in $(seq 20); do
		bgrun hB "b$i" "$PNC" punch -m "$MED1" -w 20 "${n[$i]}"
	done
	ok=0
	for i in $(seq 20); do
		wait_tag "a$i"; ra=$RC
		wait_tag "b$i"; rb=$RC
		[ "$ra" -eq 0 ] && [ "$rb" -eq 0 ] && ok=$((ok + 1))
	done
	echo "pairs ok: $ok/20"
	[ "$ok" -eq 20 ]
}

# hC's UDP datagrams so far (received; on loopback also every one sent).
udp_in() {
	lab_exec hC awk '$1 == "Udp:" && $2 ~ /^[0-9]/ { print $2 }' /proc/net/snmp
}

# loadgen_rate ARGS...: tests/loadgen.c's "rate ARGS" against a mediator
# of its own on loopback in hC; run's $output and $status, and hC's UDP
# datagrams meanwhile (all the mediator's) in $DGRAMS.
loadgen_rate() {
	local lg=$BATS_FILE_TMPDIR/loadgen mp d0
	[ -x "$lg" ] || cc -O2 -std=c11 -Wall -Wextra -o "$lg" \
	    "$BATS_TEST_DIRNAME/loadgen.c" || return 1
	# -n 1000000: an address's share (1/64) far above what 64 sources
	# register in a run; at -n 65536 (1024 each) two addresses whose
	# quota counters share a hashed slot (QSLOTS) were refused near
	# the end of a fast run (8 of 16 489, one full suite in 3)
	lab_bg hC "$T/lm.log" "$PNC" mediate -s 127.0.0.1 -p 7400 -l 0 \
	    -n 1000000
	mp=$LAB_BG_PID
	wait_udp_port hC 7400 || return 1
	d0=$(udp_in)
	run lab_exec hC "$lg" rate 7400 "$@"
	DGRAMS=$(($(udp_in) - d0))
	kill "$mp"
	echo "$output"
}

# lg_val KEY: the value after the word KEY in loadgen's $output.
lg_val() {
	awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$output"
}

# What one rendezvous costs the mediator, counted by the kernel: the cookie
# round trip of each client (2 + 2), the REGISTER to P and to P+1 of each
# (4), one REGISTERED (1: the first client, the second gets its PEER), one
# PEER each (2) and its PEERACK (2). The controlling side's PEER comes
# only after the controlled side's PEERACK, already with READY, so there
# is no "ready" message of its own. tests/loadgen.c plays the clients as
# pnc does, on loopback in hC; all of hC's UDP is the mediator's.
@test "a rendezvous costs the mediator 13 datagrams: one introduction each, the controlling side's (the higher id) with READY" {
	loadgen_rate 1 4
	[ "$status" -eq 0 ]
	r=$(lg_val rendezvous) resent=$(lg_val resent) errors=$(lg_val errors)
	intros=$(lg_val intros) early=$(lg_val early) badrole=$(lg_val badrole)
	d=$DGRAMS
	echo "rendezvous $r, datagrams $d ($((d * 100 / r))/100 each)"
	[ "$r" -ge 100 ]
	[ "$resent" -eq 0 ]
	[ "$errors" -eq 0 ]
	[ "$early" -eq 0 ]
	# the higher id controls, as clients with several mediators decide
	[ "$badrole" -eq 0 ]
	[ "$intros" -eq $((2 * r)) ]
	# Pairs still in flight at the end (at most 4) add a few.
	[ "$d" -ge $((13 * r)) ]
	[ "$d" -le $((13 * r + 13 * 4)) ]
}

# A controlled side that never acknowledges its introduction (gone, or
# every ack lost) must not keep the controlling side from its own: after
# three resends (700 ms) it comes, without READY.
@test "a controlled side that never acknowledges delays the controlling side's introduction by 0.7 s, no more" {
	loadgen_rate 3 4 mute
	[ "$status" -eq 0 ]
	r=$(lg_val rendezvous) early=$(lg_val early)
	p50=$(lg_val p50_ms) p99=$(lg_val p99_ms)
	# 3 s, 4 pairs at a time, each about 0.7 s: 16 or so.
	[ "$r" -ge 8 ]
	[ "$early" -eq "$r" ]
	awk -v a="$p50" -v b="$p99" 'BEGIN { exit !(a >= 650 && b < 1500) }'
}

@test "a full mediator table refuses new names with exit 1 and a message" {
	lab_bg core "$T/med3.log" "$PNC" mediate -v -n 1 -p 7401 -s "$MED2"
	mp=$LAB_BG_PID
	wait_udp_port core 7401
	bgrun hA a "$PNC" punch -m "$MED2:7401" -w 5 first
	wait_for 5 grep -q "registered first" "$T/med3.log"
	run lab_exec hB "$PNC" punch -v -m "$MED2:7401" -w 5 second
	kill "$mp" "${PIDS[a]}"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"mediator refused: mediator table full"* ]]
}

@test "several mediators: two of three not running still meet (-m thrice, and PNC_MEDIATOR as a list)" {
	n=$(uname_)
	# Nothing listens on 7400 or 7500: only 7321 answers.
	bgrun hA a "$PNC" punch -m "$MED1:7400" -m "$MED2:7500" -m "$MED1" -w 10 "$n"
	PNC_MEDIATOR="$MED2:7500, $MED1:7400 $MED1" bgrun hB b "$PNC" punch -w 10 "$n"
	wait_tag a; rca=$RC
	wait_tag b; rcb=$RC
	show a b
	[ "$rca" -eq 0 ]
	[ "$rcb" -eq 0 ]
	grep -Eq '^[0-9]+ [0-9.]+ [0-9]+$' "$T/a.out"
	grep -Eq '^[0-9]+ [0-9.]+ [0-9]+$' "$T/b.out"
	# None answering: exit 1, and it says so. The second joins after
	# 1 s (FAILOVER_MS); before, only the first was tried.
	run lab_exec hA "$PNC" punch -m "$MED1:7400" -m "$MED2:7500" -w 1.5 "$n-x"
	[ "$status" -eq 1 ]
	[[ "$output" == *"none of 2 mediators answered"* ]]
	run lab_exec hA "$PNC" punch -m "$MED1:7400" -m "$MED2:7500" -w 0.5 "$n-x"
	[ "$status" -eq 1 ]
	[[ "$output" == *" did not answer"* ]]
	run "$PNC" punch -m a -m b -m c -m d -m e x
	[ "$status" -eq 2 ]
}

@test "several mediators: one killed mid-rendezvous, the pair still meets through the other" {
	n=$(uname_)
	lab_bg core "$T/m1.log" "$PNC" mediate -v -p 7401 -s "$MED1"
	m1=$LAB_BG_PID
	lab_bg core "$T/m2.log" "$PNC" mediate -v -p 7402 -s "$MED2"
	m2=$LAB_BG_PID
	wait_udp_port core 7401
	wait_udp_port core 7402
	bgrun hA a "$PNC" punch -v -m "$MED1:7401" -m "$MED2:7402" -w 10 "$n"
	# A is registered with the first mediator: kill it, then B comes.
	wait_for 5 grep -q "registered $n" "$T/m1.log"
	kill "$m1"
	bgrun hB b "$PNC" punch -v -m "$MED1:7401" -m "$MED2:7402" -w 10 "$n"
	wait_tag a; rca=$RC
	wait_tag b; rcb=$RC
	kill "$m2"
	show a b
	[ "$rca" -eq 0 ]
	[ "$rcb" -eq 0 ]
	grep -q "introduced $n" "$T/m2.log"
	run grep -q "introduced $n" "$T/m1.log"
	[ "$status" -eq 1 ]
	grep -Eq '^[0-9]+ [0-9.]+ [0-9]+$' "$T/b.out"
}

# --- several mediators: a name on a subset (rendezvous hashing) -----------

SPREAD_BASE=6880194	# the merge-base: registers with every mediator

# three_meds PORT...: a verbose mediator on core for each of 7601 (on
# MED1), 7611 (MED2), 7621 (MED1) named in PORT..., logs $T/m<PORT>.log.
# Sets MEDS (the list, as -m takes it) and RANK (the list in the order
# tests/loadgen.c's independent hash ranks it for $n).
three_meds() {
	local port lg=$BATS_FILE_TMPDIR/loadgen
	[ -x "$lg" ] || cc -O2 -std=c11 -Wall -Wextra -o "$lg" \
	    "$BATS_TEST_DIRNAME/loadgen.c" || return 1
	MEDS=("$MED1:7601" "$MED2:7611" "$MED1:7621")
	MPIDS=()
	for port in "$@"; do
		lab_bg core "$T/m$port.log" "$PNC" mediate -v -p "$port" \
		    -s "$([ "$port" = 7611 ] && echo "$MED2" || echo "$MED1")"
		MPIDS+=("$LAB_BG_PID")
		wait_udp_port core "$port" || return 1
	done
	mapfile -t RANK < <("$lg" rank "$n" "${MEDS[@]}")
	[ "${#RANK[@]}" -eq 3 ]
}

# mlog RANK_INDEX: the log of the mediator ranked there.
mlog() {
	echo "$T/m${RANK[$1]##*:}.log"
}

# mflags LIST...: -m for each.
mflags() {
	local m
	for m in "$@"; do printf -- '-m\n%s\n' "$m"; done
}

@test "several mediators: a waiting name lives on the two its hash ranks first of three, the same for both peers; the merge-base put it on all three" {
	n=$(uname_)
	three_meds 7601 7611 7621
	mapfile -t fwd < <(mflags "${MEDS[@]}")
	mapfile -t rev < <(mflags "${MEDS[2]}" "${MEDS[1]}" "${MEDS[0]}")
	bgrun hA a "$PNC" punch -v "${fwd[@]}" -w 15 "$n"
	# A waits: the first at once, the second after 1 s without a peer.
	wait_for 10 grep -q "registered $n role" "$(mlog 1)"
	grep -q "registered $n role" "$(mlog 0)"
	# B's list in the other order.
	bgrun hB b "$PNC" punch -v "${rev[@]}" -w 10 "$n"
	wait_tag a; rca=$RC
	wait_tag b; rcb=$RC
	show a b
	[ "$rca" -eq 0 ]
	[ "$rcb" -eq 0 ]
	# Both ranked as loadgen's own SipHash does, whatever their order.
	for t in a b; do
		for i in 0 1 2; do
			grep -q "mediator $((i + 1)) for \"$n\": ${RANK[$i]} " \
			    "$T/$t.err"
		done
	done
	# B came to the first: met there; A alone on the second; never
	# on the third.
	grep -q "introduced $n:" "$(mlog 0)"
	[ "$(grep -c "registered $n role" "$(mlog 0)")" -eq 2 ]
	[ "$(grep -c "registered $n role" "$(mlog 1)")" -eq 1 ]
	run grep -c "$n" "$(mlog 2)"
	[ "$output" -eq 0 ]
	# The control: the merge-base registers with all three at once.
	local old=$BATS_FILE_TMPDIR/spread-base
	if [ ! -x "$old/pnc" ]; then
		mkdir -p "$old"
		git -C "$BATS_TEST_DIRNAME/.." archive "$SPREAD_BASE" |
		    tar -x -C "$old"
		make -C "$old" pnc >/dev/null 2>&1
	fi
	bgrun hA c "$old/pnc" punch -v "${fwd[@]}" -w 10 "$n-b"
	for i in 0 1 2; do
		wait_for 10 grep -q "registered $n-b role" "$(mlog $i)"
	done
	bgrun hB d "$old/pnc" punch -v "${rev[@]}" -w 10 "$n-b"
	wait_tag c; [ "$RC" -eq 0 ]
	wait_tag d; [ "$RC" -eq 0 ]
	kill "${MPIDS[@]}"
	for i in 0 1 2; do
		grep -q "introduced $n-b:" "$(mlog $i)"
	done
}

@test "several mediators: the first of a name's mediators down, the pair meets at the second after 1 s; both down, at the third" {
	n=$(uname_)
	three_meds
	# Only the second and the third of $n's ranking run.
	for i in 1 2; do
		port=${RANK[$i]##*:}
		lab_bg core "$T/m$port.log" "$PNC" mediate -v -p "$port" \
		    -s "${RANK[$i]%:*}"
		MPIDS+=("$LAB_BG_PID")
		wait_udp_port core "$port"
	done
	mapfile -t fwd < <(mflags "${MEDS[@]}")
	bgrun hA a "$PNC" punch -v "${fwd[@]}" -w 10 "$n"
	bgrun hB b "$PNC" punch -v "${fwd[@]}" -w 10 "$n"
	wait_tag a; rca=$RC
	wait_tag b; rcb=$RC
	show a b
	[ "$rca" -eq 0 ]
	[ "$rcb" -eq 0 ]
	grep -q "introduced $n:" "$(mlog 1)"
	for t in a b; do
		grep -q "no answer from the others: registering with mediator 2, ${RANK[1]}, too" "$T/$t.err"
	done
	# Now the second down too: the third, after 2 s.
	kill "${MPIDS[0]}"
	bgrun hA a "$PNC" punch -v "${fwd[@]}" -w 10 "$n"
	bgrun hB b "$PNC" punch -v "${fwd[@]}" -w 10 "$n"
	wait_tag a; rca=$RC
	wait_tag b; rcb=$RC
	kill "${MPIDS[1]}"
	show a b
	[ "$rca" -eq 0 ]
	[ "$rcb" -eq 0 ]
	grep -q "introduced $n:" "$(mlog 2)"
	grep -q "registering with mediator 3, ${RANK[2]}, too" "$T/a.err"
}

TCPFO_BASE=b3699fd	# -t registered with the first mediator only
# lost_join PNC TAG: A alone (PNC), name $n-TAG, with the two mediators
# ranked first for it of three_meds' three, the second in rank behind a
# drop rule on core until its first REGISTER has been dropped; then
# $T/TAG.ms: ms from the rule's removal until the second logged the
# registration, or "none" within 4 s. Two: a third joining would send
# to all (and so again).
lost_join() {
	local bin=$1 tag=$2 nm=$n-$2 r port t0
	mapfile -t r < <("$BATS_FILE_TMPDIR/loadgen" rank "$nm" "${MEDS[@]}")
	port=${r[1]##*:}
	mapfile -t fwd < <(mflags "${r[0]}" "${r[1]}")
	lab_exec core nft -f - <<-EOF
		table inet lostjoin {
			counter m2 { }
			chain in {
				type filter hook input priority -10; policy accept;
				udp dport $port counter name "m2" drop
			}
		}
	EOF
	bgrun hA "$tag" "$bin" punch -v "${fwd[@]}" -w 20 "$nm"
	wait_for 10 dropped_m2
	t0=$EPOCHREALTIME
	lab_exec core nft delete table inet lostjoin
	if wait_for 4 grep -q "registered $nm role" "$T/m$port.log"; then
		awk -v a="$t0" -v b="$EPOCHREALTIME" \
		    'BEGIN { printf "%d\n", (b - a) * 1000 }' >"$T/$tag.ms"
	else
		echo none >"$T/$tag.ms"
	fi
	kill "${PIDS[$tag]}" 2>/dev/null || true
}

dropped_m2() {
	(($(lab_exec core nft list counter inet lostjoin m2 |
	    awk '$1 == "packets" { print $2 }') >= 1))
}

@test "several mediators: a late joiner's lost first REGISTER is sent again within a second, not at the 10 s refresh" {
	n=$(uname_)
	three_meds 7601 7611 7621
	lost_join "$PNC" a
	echo "# now: registered with the second $(cat "$T/a.ms") ms after its path opened" >&3
	[ "$(cat "$T/a.ms")" != none ]
	[ "$(cat "$T/a.ms")" -lt 2000 ]
	# The control: before, the next REGISTER went at the refresh, 10 s
	# after the first mediator's answer.
	local old=$BATS_FILE_TMPDIR/tcpfo-base
	if [ ! -x "$old/pnc" ]; then
		mkdir -p "$old"
		git -C "$BATS_TEST_DIRNAME/.." archive "$TCPFO_BASE" |
		    tar -x -C "$old"
		make -C "$old" pnc >/dev/null 2>&1
	fi
	lost_join "$old/pnc" b
	echo "# $TCPFO_BASE: $(cat "$T/b.ms")" >&3
	kill "${MPIDS[@]}"
	[ "$(cat "$T/b.ms")" = none ]
}

@test "several mediators, -t: the first of a name's mediators down, the pair meets over TCP at the second; before, -t never left the first" {
	n=$(uname_)
	three_meds
	port=${RANK[1]##*:}
	lab_bg core "$T/m$port.log" "$PNC" mediate -v -p "$port" \
	    -s "${RANK[1]%:*}"
	MPIDS+=("$LAB_BG_PID")
	wait_udp_port core "$port"
	mapfile -t fwd < <(mflags "${MEDS[@]}")
	bgrun hA a "$PNC" punch -t -v "${fwd[@]}" -w 10 "$n"
	bgrun hB b "$PNC" punch -t -v "${fwd[@]}" -w 10 "$n"
	wait_tag a; rca=$RC
	wait_tag b; rcb=$RC
	show a b
	[ "$rca" -eq 0 ]
	[ "$rcb" -eq 0 ]
	grep -q "introduced $n:" "$(mlog 1)"
	for t in a b; do
		grep -q "no answer from the others: registering with mediator 2, ${RANK[1]}, too" "$T/$t.err"
		grep -q "mediator 2 introduced the peer after .* over TCP" "$T/$t.err"
		grep -q "TCP connection with" "$T/$t.err"
	done
	# The control: the same with $TCPFO_BASE times out (-w 4).
	local old=$BATS_FILE_TMPDIR/tcpfo-base
	if [ ! -x "$old/pnc" ]; then
		mkdir -p "$old"
		git -C "$BATS_TEST_DIRNAME/.." archive "$TCPFO_BASE" |
		    tar -x -C "$old"
		make -C "$old" pnc >/dev/null 2>&1
	fi
	# The same name: another's rank could put the running one first.
	before=$(grep -c "registered $n role" "$(mlog 1)")
	bgrun hA c "$old/pnc" punch -t -v "${fwd[@]}" -w 4 "$n"
	bgrun hB d "$old/pnc" punch -t -v "${fwd[@]}" -w 4 "$n"
	wait_tag c; rcc=$RC
	wait_tag d; rcd=$RC
	kill "${MPIDS[@]}"
	show c d
	[ "$rcc" -eq 1 ]
	[ "$rcd" -eq 1 ]
	[ "$(grep -c "registered $n role" "$(mlog 1)")" -eq "$before" ]
}
