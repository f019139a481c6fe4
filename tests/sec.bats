#!/usr/bin/env bats
#
# The protocol-3 secure channel (crypto.c: sec_*, code_*; PROTOCOL 6)
# through tests/sec.c: two struct sec in memory, records, codes. Built
# warning-free with gcc and clang, and again under ASan and UBSan; every
# test is shown able to fail. No lab and no root needed.

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
CC=${CC:-cc}
STRICT=(-std=c11 -Wall -Wextra -Werror -O2)

# build OUT SRC [FLAGS...]: SRC and crypto.c into $BATS_TEST_TMPDIR/OUT.
build() {
	local out=$1 src=$2
	shift 2
	run "${BCC:-$CC}" "${STRICT[@]}" "$@" -o "$BATS_TEST_TMPDIR/$out" \
	    "$ROOT/tests/$src" "$ROOT/crypto.c"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

# check_all: every test listed by -l reported ok, and the closing line.
check_all() {
	local t n=0
	for t in $("$BATS_TEST_TMPDIR/sec" -l); do
		[[ "$output" == *"ok $t"* ]] || { echo "missing ok $t"; false; }
		n=$((n + 1))
	done
	[ "$n" -ge 40 ]
	[[ "$output" != *FAIL* ]]
	[ "${lines[-1]}" = "$n passed, 0 failed" ]
}

@test "sec: handshakes, records and codes in memory (gcc)" {
	build sec sec.c
	run "$BATS_TEST_TMPDIR/sec"
	echo "$output"
	[ "$status" -eq 0 ]
	check_all
	echo "$output" | grep '^#' >&3
}

@test "sec: the same under ASan and UBSan" {
	build sec sec.c -g -fno-omit-frame-pointer \
	    -fsanitize=address,undefined -fno-sanitize-recover=all
	run "$BATS_TEST_TMPDIR/sec"
	echo "$output"
	[ "$status" -eq 0 ]
	check_all
}

@test "sec: clang builds it warning-free and it passes" {
	command -v clang || skip "no clang"
	BCC=clang build sec sec.c
	run "$BATS_TEST_TMPDIR/sec"
	[ "$status" -eq 0 ]
	check_all
}

@test "sec: every test can fail (each one sabotaged in turn fails)" {
	build sec sec.c
	local t n=0
	for t in $("$BATS_TEST_TMPDIR/sec" -l); do
		run "$BATS_TEST_TMPDIR/sec" -x "$t"
		[ "$status" -eq 1 ] || { echo "-x $t: status $status"; false; }
		[[ "$output" == *"FAIL $t:"* ]] || { echo "$output"; false; }
		[ "${lines[-1]}" = "0 passed, 1 failed" ] || { echo "$output"; false; }
		n=$((n + 1))
	done
	[ "$n" -ge 40 ]
}

@test "sec: the code word table in crypto.c is what tests/wordlist.sh makes" {
	local eff=/usr/lib/python3/dist-packages/diceware/wordlists/wordlist_en_eff.txt
	[ -f "$eff" ] || skip "Debian package diceware not installed"
	sh "$ROOT/tests/wordlist.sh" "$eff" >"$BATS_TEST_TMPDIR/words"
	sed -n '/^static const char code_words\[\]\[6\] = {$/,/^};$/p' \
	    "$ROOT/crypto.c" | sed '1d;$d' >"$BATS_TEST_TMPDIR/table"
	[ -s "$BATS_TEST_TMPDIR/table" ]
	diff "$BATS_TEST_TMPDIR/words" "$BATS_TEST_TMPDIR/table"
}

# build_ct OUT [FLAGS...]: tests/ct.c and crypto.c as pnc builds them,
# with ${CTCC:-$CC}; DWARF 4, which this valgrind reads from clang too.
build_ct() {
	local out=$1
	shift
	run "${CTCC:-$CC}" "${STRICT[@]}" -gdwarf-4 \
	    -fno-asynchronous-unwind-tables -fno-inline-functions "$@" \
	    -o "$BATS_TEST_TMPDIR/$out" "$ROOT/tests/ct.c" "$ROOT/crypto.c"
	echo "$output"
	[ "$status" -eq 0 ] && [ -z "$output" ]
}

@test "sec: constant time under valgrind (password and payload secret), gcc and clang" {
	command -v valgrind || skip "no valgrind"
	local cc
	for cc in "$CC" $(command -v clang); do
		CTCC=$cc build_ct ct -DCRYPTO_CT_CHECK
		run valgrind -q --error-exitcode=99 "$BATS_TEST_TMPDIR/ct" sec
		echo "$cc: $output"
		[ "$status" -eq 0 ]
		[[ "$output" != *uninitialised* ]]
		[[ "$output" == *"ct: sec handshake done"* ]]
		[[ "$output" == *"ct: sec record i->r: 0"* ]]
		[[ "$output" == *"ct: sec forged record r->i: -1"* ]]
	done
}

@test "sec: without its declassify points, the check flags exactly the confirm, ack and tag verdicts" {
	command -v valgrind || skip "no valgrind"
	# Built without -DCRYPTO_CT_CHECK the verdicts count as secret: the
	# check must see the compares' outcome there, and nowhere else.
	build_ct ct-nodecl
	run valgrind -q --error-exitcode=99 "$BATS_TEST_TMPDIR/ct-nodecl" sec
	echo "$output"
	[ "$status" -eq 99 ]
	local f
	for f in sec_on_reply sec_on_finish sec_on_ack chacha20poly1305_open; do
		[[ "$output" == *"at "*"$f (crypto.c:"* ]] ||
		    { echo "no report in $f"; false; }
	done
	run bash -c "grep -A1 'depends on uninitialised' <<<\"\$0\" | \
	    grep ' at ' | grep -v 'sec_on_reply\|sec_on_finish\|sec_on_ack\|chacha20poly1305_open\|cpace_finish'" "$output"
	[ -z "$output" ]
}

@test "sec: secbench runs and prints the record layer beside the raw AEAD, and a handshake's CPU time" {
	run "$CC" "${STRICT[@]}" -D_GNU_SOURCE -o "$BATS_TEST_TMPDIR/secbench" \
	    "$ROOT/tests/secbench.c" "$ROOT/crypto.c"
	echo "$output"
	[ "$status" -eq 0 ] && [ -z "$output" ]
	run "$BATS_TEST_TMPDIR/secbench" 0.05
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" =~ ^raw\ aead\ seal\+open,\ 1200\ B\ +[0-9]+\ MB/s$ ]]
	[[ "${lines[2]}" =~ ^sec_seal\+sec_open,\ 1200\ B\ +[0-9]+\ MB/s\ +[0-9.]+x$ ]]
	[[ "${lines[3]}" =~ ^handshake,\ both\ sides,\ CPU\ +[0-9]+\ us\ +[0-9]+/s$ ]]
	echo "$output" | sed 's/^/# /' >&3
}
