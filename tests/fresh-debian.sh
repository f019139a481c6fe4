#!/bin/sh
# tests/fresh-debian.sh - issue 19's acceptance on a real minimal Debian, by
# hand: not part of `make test` (it downloads a distribution: a minute or
# two, about 1.5 GB in DIR once the suite's packages are in).
#
#   sudo tests/fresh-debian.sh [-n] [-u] DIR
#
# debootstrap makes DIR a minimal Debian (minbase, plus gcc, make and
# libc6-dev: the README's "C compiler, make"); this tree goes in as
# `make dist` packs it (HEAD); then, as root in a chroot, the README's two
# commands and nothing else: `make demo`, `make test` (which installs what
# the suite needs itself). -n stops after `make demo` and the set-up
# (`make test BATS="bats --count"`: deps, build, every test file parsed).
# -u then boots DIR with systemd-nspawn (host package systemd-container),
# installs pnc, starts pnc-mediate.service and reports what systemd made
# of it: user, capabilities, descriptor limit, a punch and a session
# through it, its journal; the container powers itself off.
#
# MIRROR (default http://deb.debian.org/debian) and SUITE (bookworm) pick
# the distribution. Exit status: make test's (or 1: no unit check result);
# DIR is kept, and a second run reuses it.
set -eu
usage() { echo "usage: $0 [-n] [-u] DIR" >&2; exit 2; }
quick= unit=
while getopts nu ch; do
	case $ch in
	n) quick=1 ;;
	u) unit=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
R=$(realpath -m "$1")
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=${SUITE:-bookworm}
[ "$(id -u)" = 0 ] || { echo "$0: needs root (debootstrap, chroot)" >&2; exit 2; }
for c in debootstrap git unshare; do
	command -v $c >/dev/null || { echo "$0: needs $c" >&2; exit 2; }
done
[ -z "$unit" ] || command -v systemd-nspawn >/dev/null ||
    { echo "$0: -u needs systemd-nspawn (systemd-container)" >&2; exit 2; }
cd "$(dirname "$0")/.."

# in_root CMD: CMD by sh in the chroot, with a bare environment, and
# proc, sys, dev and run mounted in a mount namespace of its own (gone
# when it ends). DIR is bound on itself so that / is a mount point
# there: ip netns exec and unshare -m need one.
in_root() {
	unshare -m --propagation private sh -c "set -e
	    mount --bind '$R' '$R'
	    mount -t proc proc '$R/proc'
	    mount --bind /sys '$R/sys'
	    mount --bind /dev '$R/dev'
	    mount --bind /dev/pts '$R/dev/pts'
	    mount -t tmpfs tmpfs '$R/run'
	    exec chroot '$R' env -i HOME=/root LANG=C \
	        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	        sh -c '$1'"
}

step() { echo "== $(date -u +%T) $*"; }

if [ ! -x "$R/usr/bin/gcc" ]; then
	step "debootstrap --variant=minbase $SUITE into $R"
	debootstrap --variant=minbase --include=gcc,make,libc6-dev \
	    "$SUITE" "$R" "$MIRROR" >"$R.debootstrap.log" 2>&1 ||
	    { tail "$R.debootstrap.log"; exit 1; }
fi
tgz=$(make -s dist)
mv "$tgz" "$R/root/"
d=${tgz%.tar.gz}
step "$tgz in /root; what the suite would need is not there yet:"
in_root "cd /root && rm -rf $d && tar xzf $tgz && cd $d &&
    for c in bats nft socat ip; do command -v \$c >/dev/null || echo \"  no \$c\"; done"
step "make demo"
in_root "cd /root/$d && make demo"
# (in_root's CMD sits in single quotes: double ones inside it.)
rc=0
if [ -n "$quick" ]; then
	step 'make test BATS="bats --count"'
	in_root "cd /root/$d && make test BATS=\"bats --count\"" || rc=$?
else
	step "make test"
	in_root "cd /root/$d && make test" || rc=$?
fi
echo "make test: exit $rc"
[ -n "$unit" ] || exit $rc

step "pnc-mediate.service under systemd (systemd-nspawn -b)"
in_root "cd /root/$d && make -s install"
cat >"$R/root/unit-check.sh" <<'EOF'
#!/bin/sh
exec >/root/unit-check.out 2>&1
systemctl start pnc-mediate && systemctl is-active pnc-mediate
pid=$(systemctl show -p MainPID --value pnc-mediate)
ps -o user,pid,args -p "$pid"
grep -E '^(Uid|Cap(Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' "/proc/$pid/status"
grep 'open files' "/proc/$pid/limits"
echo "descriptors: $(ls "/proc/$pid/fd" | wc -l)"
pnc punch -m 127.0.0.1 -w 5 a >/root/a.out &
pnc punch -m 127.0.0.1 -w 5 a >/root/b.out
wait
echo "punch: $(cat /root/a.out) / $(cat /root/b.out)"
echo hello | pnc listen -m 127.0.0.1 -w 5 b >/root/l.out &
echo "session: connect got '$(echo world | pnc connect -m 127.0.0.1 -w 5 b)'"
wait
echo "session: listen got '$(cat /root/l.out)'"
systemctl stop pnc-mediate
systemctl show -p Result,ExecMainStatus pnc-mediate
journalctl -u pnc-mediate -o short-monotonic --no-pager
systemd-analyze security --no-pager pnc-mediate | tail -1
systemctl poweroff
EOF
cat >"$R/etc/systemd/system/unit-check.service" <<'EOF'
[Unit]
Description=tests/fresh-debian.sh: pnc-mediate.service check
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/sh /root/unit-check.sh
[Install]
WantedBy=multi-user.target
EOF
# -v for the check, so that the journal has lines to show.
mkdir -p "$R/etc/systemd/system/pnc-mediate.service.d"
printf '[Service]\nEnvironment="PNC_MEDIATE_OPTS=-v"\n' \
    >"$R/etc/systemd/system/pnc-mediate.service.d/check.conf"
ln -sf /etc/systemd/system/unit-check.service \
    "$R/etc/systemd/system/multi-user.target.wants/unit-check.service"
rm -f "$R/root/unit-check.out"
timeout 300 systemd-nspawn -q --keep-unit --register=no \
    --private-network -D "$R" -b >"$R.nspawn.log" 2>&1 || true
rm -f "$R/etc/systemd/system/multi-user.target.wants/unit-check.service"
cat "$R/root/unit-check.out" ||
    { echo "no result: see $R.nspawn.log"; tail "$R.nspawn.log"; exit 1; }
exit $rc
