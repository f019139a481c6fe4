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
