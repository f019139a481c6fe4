#!/bin/sh
# tests/deps.sh - what `make test`, `make sanitize`, `make fuzz`,
# `make bench` and .ci/run need beyond make and a C compiler, in one list.
#
# When everything is there it does nothing (and fast: no apt, no network).
# When something is missing it installs the packages that provide it with
# apt-get (as root, noninteractive, one `apt-get update` first). Without
# apt-get, or not as root, it prints one line naming what is missing and
# exits 2, before anything else runs.
set -u

# One need a line: what to look for, then the Debian/Ubuntu package that
# provides it. A word with a slash is a file (a shell glob that must match),
# any other word a command on PATH; a # starts a comment (no quote in it).
NEEDS='
make				make
cc				gcc
/usr/include/stdio.h		libc6-dev
strip				binutils
bats				bats
ip				iproute2
ss				iproute2
nft				nftables
conntrack			conntrack
nc				netcat-openbsd
socat				socat
ps				procps
sysctl				procps
taskset				util-linux
script				bsdutils
turnserver			coturn
mandoc				mandoc
groff				groff-base
clang				clang
/usr/lib/llvm-*/lib/clang/*/lib/*/libclang_rt.fuzzer*.a	libclang-rt-dev
/usr/include/sodium.h		libsodium-dev
musl-gcc			musl-tools
kcptun-client			kcptun
miniupnpd			miniupnpd
parallel			parallel
systemd-analyze			systemd
# systemd-analyze verify looks up the Documentation= of a unit with man.
man				man-db
file				file
valgrind			valgrind
python3				python3
/usr/lib/python3/dist-packages/diceware/wordlists/wordlist_en_eff.txt	diceware
git				git
'

# Tools in sbin are needed too when a user without it in PATH runs this.
PATH=$PATH:/usr/sbin:/sbin
export PATH

# have WHAT: whether the command or file is there.
have() {
	case $1 in
	*/*)	for f in $1; do [ -e "$f" ] && return 0; done
		return 1 ;;
	*)	command -v "$1" >/dev/null 2>&1 ;;
	esac
}

# missing: "WHAT (package PACKAGE)" for every need not met, one a line.
missing() {
	echo "$NEEDS" | while read -r what pkg; do
		case $what in ''|'#'*) continue ;; esac
		have "$what" || echo "$what (package $pkg)"
	done
}

# oneline TEXT: the lines of TEXT joined with ", ".
oneline() {
	echo "$1" | paste -sd, - | sed 's/,/, /g'
}

miss=$(missing)
[ -z "$miss" ] && exit 0
pkgs=$(echo "$miss" | sed 's/.*(package \(.*\))$/\1/' | sort -u | paste -sd' ' -)
if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps.sh: missing $(oneline "$miss"); no apt-get here to install them" >&2
	exit 2
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing $(oneline "$miss"); run as root to install them with apt-get" >&2
	exit 2
fi
echo "deps.sh: installing $pkgs with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
# Word splitting of $pkgs is wanted: one argument a package.
# shellcheck disable=SC2086
if ! apt-get update -qq >/dev/null ||
    ! apt-get install -y -qq --no-install-recommends $pkgs >/dev/null; then
	echo "deps.sh: apt-get could not install $pkgs" >&2
	exit 2
fi
miss=$(missing)
if [ -n "$miss" ]; then
	echo "deps.sh: still missing after apt-get: $(oneline "$miss")" >&2
	exit 2
fi
exit 0
