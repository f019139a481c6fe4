#!/usr/bin/env bats
#
# make install / uninstall with PREFIX and DESTDIR, and the man page
# rendered without warnings. No lab: this does not load helpers.bash.

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

@test "make install honours PREFIX and DESTDIR; make uninstall removes what it put" {
	d=$BATS_TEST_TMPDIR/root
	run make -C "$ROOT" install PREFIX=/opt/pnc DESTDIR="$d"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -x "$d/opt/pnc/bin/pnc" ]
	[ -f "$d/opt/pnc/share/man/man1/pnc.1" ]
	cmp "$ROOT/pnc.1" "$d/opt/pnc/share/man/man1/pnc.1"
	run "$d/opt/pnc/bin/pnc" -h
	[ "$status" -eq 0 ]
	[[ "$output" == "usage: pnc mediate"* ]]
	run make -C "$ROOT" uninstall PREFIX=/opt/pnc DESTDIR="$d"
	[ "$status" -eq 0 ]
	[ ! -e "$d/opt/pnc/bin/pnc" ]
	[ ! -e "$d/opt/pnc/share/man/man1/pnc.1" ]
}

@test "the man page renders without warnings (mandoc -T lint, groff -ww)" {
	if command -v mandoc >/dev/null; then
		run mandoc -T lint -W warning "$ROOT/pnc.1"
		echo "$output"
		[ "$status" -eq 0 ]
		[ -z "$output" ]
	fi
	command -v groff >/dev/null || skip "no groff"
	run groff -mandoc -ww -z "$ROOT/pnc.1"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}
