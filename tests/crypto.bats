#!/usr/bin/env bats
#
# crypto.c against FIPS 180-4, RFC 4231 and SipHash reference vectors
# (tests/crypto.c), built warning-free and again under ASan and UBSan. No lab and no root needed:
# this deliberately does not load helpers.bash.

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
CC=${CC:-cc}
CFLAGS_STRICT=(-std=c11 -Wall -Wextra -Werror -O2)

# build [FLAGS...]: tests/crypto.c and crypto.c into $BATS_TEST_TMPDIR/crypto.
build() {
	run "$CC" "${CFLAGS_STRICT[@]}" "$@" -o "$BATS_TEST_TMPDIR/crypto" \
	    "$ROOT/tests/crypto.c" "$ROOT/crypto.c"
	echo "$output"
	[ "$status" -eq 0 ]
	# -Werror already fails on a warning; this catches notes and the like.
	[ -z "$output" ]
}

# run_crypto: run the program; it must exit 0 and report no failures.
run_crypto() {
	run "$BATS_TEST_TMPDIR/crypto"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"0 failed"* ]]
	[[ "$output" != *FAIL* ]]
}

@test "crypto: SHA-256 and HMAC-SHA256 vectors" {
	build
	run_crypto
	# The cases the brief names must each have run, not just "0 failed".
	for c in "sha256 empty" "sha256 abc" "sha256 448-bit" \
	    "sha256 896-bit" "sha256 million a, one update" \
	    "sha256 million a, updates of 1,2,3,... bytes" \
	    "rfc4231 case 1" "rfc4231 case 2" "rfc4231 case 3" \
	    "rfc4231 case 4" "rfc4231 case 5 (128-bit tag)" \
	    "rfc4231 case 6 (131-byte key)" "rfc4231 case 7"; do
		[[ "$output" == *"ok $c"* ]] || { echo "missing $c"; false; }
	done
	[[ "${lines[-1]}" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]
}

@test "crypto: vectors under ASan and UBSan" {
	build -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	    -fno-sanitize-recover=all
	run_crypto
}

@test "crypto: ct_equal on equal, unequal and zero-length input" {
	build
	run_crypto
	for c in "ct_equal equal" "ct_equal same pointer" \
	    "ct_equal zero length" "ct_equal equal prefix" \
	    "ct_equal last byte differs" "ct_equal first byte differs" \
	    "ct_equal each single-bit difference" \
	    "ct_equal every bit differs"; do
		[[ "$output" == *"ok $c"* ]] || { echo "missing $c"; false; }
	done
}

@test "crypto: SipHash-2-4 reference vectors" {
	build
	run_crypto
	for n in 0 1 7 8 9 15 16 63; do
		[[ "$output" == *"ok siphash24 $n bytes"* ]] ||
		    { echo "missing siphash24 $n"; false; }
	done
}

# ---- issue 15: SHA-512, HMAC/HKDF-SHA-512, X25519, Elligator 2, CPace,
# ChaCha20-Poly1305 (tests/crypto2.c, tests/sodium.c, tests/ct.c) ----

# build2 OUT SRC [FLAGS...]: SRC and crypto.c into $BATS_TEST_TMPDIR/OUT,
# warning-free.
build2() {
	local out=$1 src=$2
	shift 2
	run "$CC" "${CFLAGS_STRICT[@]}" "$@" -o "$BATS_TEST_TMPDIR/$out" \
	    "$ROOT/tests/$src" "$ROOT/crypto.c"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

# The number of checks per source: a vector lost from a table fails too.
SOURCES=("fips180-4-sha512 10" "rfc4231-hmac-sha512 14" "rfc8439 32"
    "rfc7748 8" "cpace-draft 20" "wycheproof-x25519 518"
    "wycheproof-chacha20-poly1305 325" "wycheproof-hmac-sha512 174"
    "wycheproof-hkdf-sha512 83" "elligator2-reference 256")

# check_crypto2: each source in $output reports all its checks passed.
check_crypto2() {
	local s
	for s in "${SOURCES[@]}"; do
		set -- $s
		[[ "$output" == *"count $1: $2 passed, 0 failed"* ]] ||
		    { echo "source $1: expected $2 passed, 0 failed"; false; }
	done
	[[ "$output" != *FAIL* ]]
	[ "${lines[-1]}" = "total: 1440 passed, 0 failed" ]
}

@test "crypto2: every vector source (RFC 8439, 7748, 4231, FIPS 180-4, CPace, Wycheproof)" {
	build2 crypto2 crypto2.c
	run "$BATS_TEST_TMPDIR/crypto2"
	echo "$output" | grep -v '^FAIL' | head -20
	echo "$output" | grep '^FAIL' | head -20
	[ "$status" -eq 0 ]
	check_crypto2
	# the counts per source, in bats' own output
	echo "$output" | grep -e '^count' -e '^total' | sed 's/^/# /' >&3
}

@test "crypto2: vectors under ASan and UBSan" {
	build2 crypto2 crypto2.c -g -fno-omit-frame-pointer \
	    -fsanitize=address,undefined -fno-sanitize-recover=all
	run "$BATS_TEST_TMPDIR/crypto2"
	echo "$output" | grep -v '^FAIL' | head -20
	[ "$status" -eq 0 ]
	check_crypto2
}

@test "crypto2: every source's checks can fail (one byte flipped, verdicts inverted)" {
	build2 crypto2 crypto2.c
	local s
	for s in "${SOURCES[@]}"; do
		set -- $s
		run "$BATS_TEST_TMPDIR/crypto2" -f "$1"
		[ "$status" -eq 1 ]
		# all of that source's checks fail, the others still pass
		[[ "$output" == *"count $1: 0 passed, $2 failed"* ]] ||
		    { echo "$output" | grep count; echo "-f $1"; false; }
		[ "$(echo "$output" | grep -c "^FAIL $1 ")" -eq "$2" ]
		[ "${lines[-1]}" = "total: $((1440 - $2)) passed, $2 failed" ]
	done
}

@test "crypto: clang builds crypto.c and crypto2.c warning-free too" {
	command -v clang || skip "no clang"
	CC=clang build2 crypto2-clang crypto2.c
	run "$BATS_TEST_TMPDIR/crypto2-clang"
	[ "$status" -eq 0 ]
	check_crypto2
}

# crypto.c's ChaCha20 has a path in vector extensions for little-endian
# hosts (with eight blocks at once where the CPU has AVX2) and a plain C
# one for every other host; -DCRYPTO_PORTABLE selects the plain one here,
# so that what a big-endian or non-GNU build runs is tested too.
@test "crypto: the portable ChaCha20 (-DCRYPTO_PORTABLE) passes every vector and matches libsodium, gcc and clang" {
	local cc
	for cc in "$CC" $(command -v clang); do
		CC=$cc build2 crypto2-portable crypto2.c -DCRYPTO_PORTABLE
		run "$BATS_TEST_TMPDIR/crypto2-portable"
		[ "$status" -eq 0 ]
		check_crypto2
		[ -f /usr/include/sodium.h ] || continue
		run "$cc" -std=c11 -Wall -Wextra -Werror -O2 -DCRYPTO_PORTABLE \
		    -o "$BATS_TEST_TMPDIR/sodium-portable" "$ROOT/tests/sodium.c" \
		    "$ROOT/crypto.c" -lsodium
		[ "$status" -eq 0 ] && [ -z "$output" ]
		run "$BATS_TEST_TMPDIR/sodium-portable" -n 20000
		echo "$cc: $output"
		[ "$status" -eq 0 ]
		for p in chacha20-poly1305-ietf chacha20-ietf poly1305; do
			[[ "$output" == *"$p: 20000 inputs, 0 mismatches"* ]] ||
			    { echo "missing $p"; false; }
		done
	done
}

@test "crypto: differential against libsodium, 100000 random inputs each" {
	[ -f /usr/include/sodium.h ] || skip "libsodium-dev not installed"
	run "$CC" -std=c11 -Wall -Wextra -Werror -O2 \
	    -o "$BATS_TEST_TMPDIR/sodium" "$ROOT/tests/sodium.c" \
	    "$ROOT/crypto.c" -lsodium
	echo "$output"
	[ "$status" -eq 0 ] && [ -z "$output" ]
	run "$BATS_TEST_TMPDIR/sodium" -n 100000
	echo "$output"
	[ "$status" -eq 0 ]
	for p in x25519 chacha20-poly1305-ietf sha512 hmac-sha512 \
	    chacha20-ietf poly1305; do
		[[ "$output" == *"$p: 100000 inputs, 0 mismatches"* ]] ||
		    { echo "missing $p"; false; }
	done
	echo "$output" | sed 's/^/# sodium: /' >&3
	# and the comparison does see a difference: one spoiled output in
	# 1000 gives exactly 5 mismatches in 5000 per primitive
	run "$BATS_TEST_TMPDIR/sodium" -n 5000 -b
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(echo "$output" | grep -c ': 5000 inputs, 5 mismatches$')" -eq 6 ]
}

# build_ct OUT [FLAGS...]: tests/ct.c and crypto.c as pnc builds them,
# with ${CTCC:-$CC}; DWARF 4, which this valgrind reads from clang too.
build_ct() {
	local out=$1
	shift
	run "${CTCC:-$CC}" -std=c11 -Wall -Wextra -Werror -O2 -gdwarf-4 \
	    -fno-asynchronous-unwind-tables -fno-inline-functions "$@" \
	    -o "$BATS_TEST_TMPDIR/$out" "$ROOT/tests/ct.c" "$ROOT/crypto.c"
	echo "$output"
	[ "$status" -eq 0 ] && [ -z "$output" ]
}

# The compilers to check constant time with: the default and clang,
# since each may turn a mask into a branch where the other does not.
ct_compilers() {
	echo "$CC"
	command -v clang >/dev/null && echo clang
}

@test "crypto: constant time under valgrind (secrets marked undefined), gcc and clang" {
	command -v valgrind || skip "no valgrind"
	for CTCC in $(ct_compilers); do
		build_ct ct -DCRYPTO_CT_CHECK
		run valgrind -q --error-exitcode=99 "$BATS_TEST_TMPDIR/ct" all
		echo "$CTCC: $output"
		[ "$status" -eq 0 ]
		[[ "$output" != *uninitialised* ]]
		for l in "x25519 done" "elligator2 done" \
		    "cpace initiator-responder agreed" \
		    "cpace symmetric agreed" \
		    "aead open of a good record: 0" \
		    "aead open of a forged record: -1" \
		    "sha512 hmac hkdf poly1305 chacha20 done"; do
			[[ "$output" == *"ct: $l"* ]] ||
			    { echo "missing $l"; false; }
		done
	done
}

@test "crypto: the constant-time check catches a secret branch and a secret index, gcc and clang" {
	command -v valgrind || skip "no valgrind"
	for CTCC in $(ct_compilers); do
		build_ct ct -DCRYPTO_CT_CHECK
		run valgrind -q --error-exitcode=99 "$BATS_TEST_TMPDIR/ct" branch
		echo "$CTCC: $output"
		[ "$status" -eq 99 ]
		[[ "$output" == *"Conditional jump or move depends on uninitialised value"*"leak_branch"* ]]
		run valgrind -q --error-exitcode=99 "$BATS_TEST_TMPDIR/ct" index
		echo "$CTCC: $output"
		[ "$status" -eq 99 ]
		[[ "$output" == *"Use of uninitialised value"*"leak_index"* ]]
	done
}

@test "crypto: without its declassify points, the check flags exactly crypto.c's public decisions" {
	command -v valgrind || skip "no valgrind"
	# Built without -DCRYPTO_CT_CHECK: the verdicts that are public by
	# nature (tag right, CPace abort, transcript order) now count as
	# secret, so valgrind must see inside crypto.c and report them.
	build_ct ct-nodecl
	run valgrind -q --error-exitcode=99 "$BATS_TEST_TMPDIR/ct-nodecl" all
	echo "$output"
	[ "$status" -eq 99 ]
	[[ "$output" == *"at "*"chacha20poly1305_open (crypto.c:"* ]]
	[[ "$output" == *"at "*"cpace_finish (crypto.c:"* ]]
	# and nowhere else: every report is at one of those three places
	run bash -c "grep -A1 'depends on uninitialised' <<<\"\$0\" | \
	    grep ' at ' | grep -v 'chacha20poly1305_open\|cpace_finish\|lex_larger\|cpace_transcript'" "$output"
	[ -z "$output" ]
}

@test "crypto: cryptobench runs and prints pnc beside libsodium" {
	[ -f /usr/include/sodium.h ] || skip "libsodium-dev not installed"
	run "$CC" -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 \
	    -o "$BATS_TEST_TMPDIR/cryptobench" "$ROOT/tests/cryptobench.c" \
	    "$ROOT/crypto.c" -lsodium
	echo "$output"
	[ "$status" -eq 0 ] && [ -z "$output" ]
	run "$BATS_TEST_TMPDIR/cryptobench" 0.05
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" =~ ^chacha20-poly1305\ seal,\ 1200\ B\ +[0-9]+\ MB/s\ +[0-9]+\ MB/s\ +[0-9.]+$ ]]
	[[ "${lines[2]}" =~ ^chacha20-poly1305\ open,\ 1200\ B\ +[0-9]+\ MB/s\ +[0-9]+\ MB/s\ +[0-9.]+$ ]]
	[[ "${lines[3]}" =~ ^x25519\ +[0-9]+\ op/s\ +[0-9]+\ op/s\ +[0-9.]+$ ]]
	[[ "${lines[4]}" =~ ^cpace,\ both\ sides\ of\ a\ run\ +[0-9]+\ op/s ]]
}

@test "crypto: tests/vectors_*.h are what tests/vectors.py makes of the sources" {
	local shared=$ROOT/../shared/crypto
	[ -f "$shared/wycheproof_x25519_test.json" ] ||
	    skip "no ../shared/crypto beside the tree"
	run python3 "$ROOT/tests/vectors.py" "$shared" "$BATS_TEST_TMPDIR"
	echo "$output"
	[ "$status" -eq 0 ]
	for h in rfc cpace wycheproof elligator2; do
		cmp "$ROOT/tests/vectors_$h.h" "$BATS_TEST_TMPDIR/vectors_$h.h"
	done
}
