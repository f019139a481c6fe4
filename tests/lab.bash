# shellcheck shell=bash
#
# lab.bash - a network namespace lab with real NATs, for testing pnc.
#
# Source it from bats (`load lab`) or from a plain bash script. It needs
# root, iproute2, nftables, socat and conntrack.
#
#                          core (internet router, mediator on lo)
#                   ethA /   |  \ ethB    lo: MED1 203.0.113.1, MED2 .2
#         198.51.100.1/30    |    198.51.100.5/30
#                    wan /   | ethP \ wan
#   [cA: carrier NAT, optional]  |  [cB: carrier NAT, optional]
#       lan 100.64.1.1/24        |        lan 100.64.2.1/24
#                     wan |      |        | wan
#                        rA      hP       rB     home NAT routers
#            lan 10.1.0.1/24  (optional   lan 10.2.0.1/24 (bridges)
#                 /      \   198.51.100.10)    |
#               hA        hC                   hB
#           10.1.0.2   10.1.0.3             10.2.0.2
#
# With --ipv6 every link also carries IPv6 from 2001:db8::/32, without NAT:
# core lo MED6_1 2001:db8::1 and MED6_2 ::2, core-side A 2001:db8:a::/64
# (core ::1, rA or cA ::2; with --cgnat-a cA-rA is 2001:db8:a:1::/64,
# cA ::1, rA ::2), side B likewise with b, LAN A 2001:db8:1::/64 (rA ::1,
# hA ::2, hC ::3), LAN B 2001:db8:2::/64 (rB ::1, hB ::2), core-hP
# 2001:db8:f::/64 (core ::1, hP ::2). rA and rB then also run a stateful
# IPv6 firewall: replies in, nothing new from outside toward the LAN.
#
# Every namespace is called "$LAB-NODE"; LAB is a prefix unique to the run
# (it carries the bats or shell pid and a random number), so parallel runs
# and namespaces left behind by a killed run never clash with this one.
#
# Nothing here sends to an address outside the lab: all addresses are
# documentation or private ranges that exist only inside these namespaces.
#
# Use from bats (teardown_file runs even when setup_file or a test fails):
#
#   load lab
#   setup_file()    { lab_up --public-host; }
#   teardown_file() { lab_down; }
#   teardown()      { lab_reset; }   # optional: kill leftovers, forget NAT state
#
# Use from a plain script. Set the trap *before* lab_up so that a failure
# half way through still cleans up; a non-interactive bash does not run the
# EXIT trap when killed by a signal it does not handle, hence the second trap:
#
#   source tests/lab.bash
#   trap lab_down EXIT
#   trap 'exit 130' INT TERM HUP
#   lab_up --nat-b symmetric
#
# Background processes must not keep bats' fd 3 open, or bats waits for them
# at the end of the test: start them with lab_bg, which closes it.

# Addresses. They are plain constants so that tests can use them before
# lab_up; lab_up exports them so child processes see them too.
MED1=203.0.113.1        # mediator address 1, on core's lo
MED2=203.0.113.2        # mediator address 2, on core's lo
CORE_A=198.51.100.1     # core's end of the link to side A
WAN_A=198.51.100.2      # side A's public address (rA, or cA with --cgnat-a)
CORE_B=198.51.100.5     # core's end of the link to side B
WAN_B=198.51.100.6      # side B's public address (rB, or cB with --cgnat-b)
CORE_P=198.51.100.9     # core's end of the link to the public host
HP=198.51.100.10        # public host hP (with --public-host)
RA_LAN=10.1.0.1         # rA on its LAN: hA's and hC's gateway
HA=10.1.0.2
HC=10.1.0.3
RB_LAN=10.2.0.1         # rB on its LAN: hB's gateway
HB=10.2.0.2
CA_LAN=100.64.1.1       # carrier A's inside address (with --cgnat-a)
CB_LAN=100.64.2.1       # carrier B's inside address (with --cgnat-b)
RA_WAN=$WAN_A           # rA's wan address: 100.64.1.2 behind a carrier NAT
RB_WAN=$WAN_B           # rB's wan address: 100.64.2.2 behind a carrier NAT
# IPv6 addresses (with --ipv6). No NAT: hosts are seen as themselves.
MED6_1=2001:db8::1      # mediator address 1, on core's lo
MED6_2=2001:db8::2      # mediator address 2, on core's lo
CORE6_A=2001:db8:a::1   # core's end of the link to side A
WAN6_A=2001:db8:a::2    # the other end: rA, or cA with --cgnat-a
CORE6_B=2001:db8:b::1   # core's end of the link to side B
WAN6_B=2001:db8:b::2    # the other end: rB, or cB with --cgnat-b
CORE6_P=2001:db8:f::1   # core's end of the link to the public host
HP6=2001:db8:f::2       # public host hP (with --public-host)
RA6_LAN=2001:db8:1::1   # rA on its LAN: hA's and hC's gateway
HA6=2001:db8:1::2
HC6=2001:db8:1::3
RB6_LAN=2001:db8:2::1   # rB on its LAN: hB's gateway
HB6=2001:db8:2::2

# ---------------------------------------------------------------------------
# Small helpers

# wait_for TIMEOUT_SECS CMD...
# Runs CMD every 20 ms until it succeeds. Returns 0 as soon as it does, 1 if
# TIMEOUT_SECS (may have a fraction: 0.5) pass first. CMD may be a function.
wait_for() {
	local timeout=$1 int frac deadline
	shift
	int=${timeout%%.*}
	frac=0
	[[ $timeout == *.* ]] && frac=${timeout#*.}
	frac=${frac}000000
	deadline=$((${EPOCHREALTIME/./} + ${int:-0} * 1000000 + 10#${frac:0:6}))
	while :; do
		if "$@"; then
			return 0
		fi
		((${EPOCHREALTIME/./} < deadline)) || return 1
		sleep 0.02
	done
}

# size_ge FILE N: FILE has at least N bytes (a condition for wait_for).
size_ge() {
	(($(stat -c %s "$1" 2>/dev/null || echo 0) >= $2))
}

# lab_exec NODE CMD...
# Runs CMD in NODE's namespace (NODE is core, rA, rB, hA, hB, hC, cA, cB, hP).
lab_exec() {
	local node=$1
	shift
	ip netns exec "$LAB-$node" "$@"
}

# lab_bg NODE LOGFILE CMD...
# Starts CMD in the background in NODE, stdout and stderr to LOGFILE, and
# sets LAB_BG_PID. Its stdin is /dev/null and bats' fd 3 is closed (see the
# top of the file). `ip netns exec` execs CMD, so the pid is CMD's own. The
# job is disowned, so that lab_kill does not make the shell print "Killed"
# lines; wait for its end with `wait_for SECS lab_pid_dead PID`.
lab_bg() {
	local node=$1 log=$2
	shift 2
	ip netns exec "$LAB-$node" "$@" </dev/null >"$log" 2>&1 3>&- &
	LAB_BG_PID=$!
	disown "$LAB_BG_PID"
}

# lab_pid_dead PID: the process has exited (a zombie counts: its sockets
# and files are closed already).
lab_pid_dead() {
	local stat
	stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
	[[ $stat == Z* ]]
}

# Succeeds if some UDP socket in NODE is bound to local PORT.
_lab_udp_bound() {
	[[ -n $(ip netns exec "$LAB-$1" ss -Hnua "sport = :$2" 2>/dev/null) ]]
}

# wait_udp_port NODE PORT [TIMEOUT_SECS]
# Waits until a UDP socket in NODE is bound to PORT (default timeout 5 s).
# Start a receiver, then wait for it here, then send: a datagram that
# arrives before the bind is answered with ICMP port unreachable.
wait_udp_port() {
	wait_for "${3:-5}" _lab_udp_bound "$1" "$2"
}

# ---------------------------------------------------------------------------
# Building and removing the lab

# The namespaces of this lab, one a line.
_lab_namespaces() {
	ip netns list 2>/dev/null | awk -v p="$LAB-" 'index($1, p) == 1 { print $1 }'
}

# Picks a prefix no existing namespace uses. The bats root pid (or $$) plus
# this shell's pid keep live runs apart; the random part and the check keep
# us away from namespaces that a dead run with a recycled pid left behind.
_lab_pick_prefix() {
	local p
	while :; do
		p="pnc${BATS_ROOT_PID:-$$}x${BASHPID}x$RANDOM"
		ip netns list 2>/dev/null | awk -v p="$p-" 'index($1, p) == 1 { f = 1 } END { exit !f }' || break
	done
	LAB=$p
}

# lab_down
# Removes every namespace of this lab, killing what still runs inside first
# (a process would keep its namespace alive, with its sockets). Idempotent;
# never fails, so it is safe in traps and teardown_file.
lab_down() {
	local ns
	[[ -n ${LAB-} ]] || return 0
	_lab_wan_stop
	for ns in $(_lab_namespaces); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	return 0
}

# lab_kill
# Kills every process running in the lab's namespaces; the lab stays up.
lab_kill() {
	local ns
	[[ -n ${LAB-} ]] || return 0
	for ns in $(_lab_namespaces); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	done
	return 0
}

# lab_reset
# Puts a built lab back to its just-built state without rebuilding it: kills
# its processes, forgets all NAT and conntrack state (so a test does not
# inherit another's mappings), removes loss and lab_counter counters.
lab_reset() {
	local ns
	[[ -n ${LAB-} ]] || return 0
	lab_kill
	for ns in $(_lab_namespaces); do
		ip netns exec "$ns" sh -c \
			'conntrack -F; nft delete table ip lab_count; nft delete table inet lab_loss' \
			>/dev/null 2>&1 || true
	done
	return 0
}

# _lab_link NODE1 IF1 NODE2 IF2
# A veth pair between two namespaces. It is created inside them, never in
# the host's namespace, so interface names cannot clash with other runs.
# Each end gets its own interface index: the kernel treats a carrier change
# on a device whose index equals its peer's (which happens easily, as every
# namespace counts from 1) as not urgent and applies it up to a second later,
# and until then the device drops everything it is asked to send.
_lab_link() {
	_LAB_IFINDEX=$((_LAB_IFINDEX + 2))
	ip -n "$LAB-$1" link add "$2" index "$_LAB_IFINDEX" type veth \
		peer name "$4" netns "$LAB-$3" index $((_LAB_IFINDEX + 1))
}

# Succeeds when every interface of the lab but lo can send: it has a
# carrier and the kernel has replaced its placeholder "noop" qdisc, which
# drops everything, by the real one. (Its operstate is no guide: a bridge
# may stay "unknown" for a second while it already forwards.)
_lab_links_up() {
	local node
	for node in $LAB_NODES; do
		lab_exec "$node" ip -o link show |
			awk '$2 != "lo:" && (!/LOWER_UP/ || /qdisc noop/) { f = 1 } END { exit f }' ||
			return 1
	done
}

# _lab_ip NODE < commands: an `ip -batch` in NODE; stops at the first error.
_lab_ip() {
	ip -n "$LAB-$1" -batch -
}

# _lab_sysctl NODE KEY=VALUE...
_lab_sysctl() {
	local node=$1
	shift
	ip netns exec "$LAB-$node" sysctl -q -e -w "$@" >/dev/null
}

# _lab_router_nft FLAVOUR [IPV6]
# Prints the nftables ruleset of a NAT router whose outside interface is
# "wan" and inside interface "lan". "home" is the home router of
# NAT-NOTES.md: endpoint-independent mapping, address- and port-dependent
# filtering. The others differ from it in one place each. With IPV6=1 it
# adds the router's IPv6 firewall (see _lab_router_nft6).
_lab_router_nft() {
	local masq="masquerade" in_policy=drop fw_rule="ct state established,related accept"
	case $1 in
	home) ;;
	# Accepts unsolicited packets to itself, so conntrack keeps state for
	# them: the source of the clash of NAT-NOTES.md section 2.
	accept) in_policy=accept ;;
	# A new random public port for every flow (endpoint-dependent mapping).
	symmetric) masq="masquerade fully-random" ;;
	# Lets in only what answers a flow to the mediator network: punching
	# through it must fail, relaying through the mediator must not.
	strict) fw_rule="iifname \"wan\" ip saddr 203.0.113.0/24 ct state established,related accept" ;;
	*) return 1 ;;
	esac
	cat <<-EOF
		table ip nat {
			chain post {
				type nat hook postrouting priority 100;
				oifname "wan" $masq
			}
		}
		table ip filter {
			chain fw {
				type filter hook forward priority 0; policy drop;
				$fw_rule
				iifname "lan" accept
			}
			chain in {
				type filter hook input priority 0; policy $in_policy;
				ct state established,related accept
				iifname "lan" accept
				iif lo accept
			}
		}
	EOF
	if ((${2:-0})); then _lab_router_nft6 "$1"; fi
}

# _lab_router_nft6 FLAVOUR
# The IPv6 half of a router: no NAT66, as is usual for IPv6, only a
# stateful firewall in forward that lets replies in and drops anything new
# from outside toward the LAN. Its own input stays open: neighbour
# discovery needs it, and nothing is translated there. FLAVOUR matters only
# for "strict": replies are let in from the mediator network 2001:db8::/64
# alone; NAT flavours have no IPv6 meaning.
_lab_router_nft6() {
	local fw_rule="ct state established,related accept"
	[[ $1 == strict ]] &&
		fw_rule="iifname \"wan\" ip6 saddr 2001:db8::/64 ct state established,related accept"
	cat <<-EOF
		table ip6 filter {
			chain fw {
				type filter hook forward priority 0; policy drop;
				$fw_rule
				iifname "lan" accept
			}
		}
	EOF
}

# _lab_ip6_on NODE
# Prepares NODE for IPv6 before its interfaces get addresses: enabled,
# and no duplicate address detection, so an address is usable at once
# (addresses are also added with nodad; this covers link-local ones).
_lab_ip6_on() {
	_lab_sysctl "$1" net.ipv6.conf.all.disable_ipv6=0 \
		net.ipv6.conf.default.disable_ipv6=0 \
		net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0
}

# _lab_side A|B FLAVOUR CGNAT IPV6
# Builds one side: home router rX with its LAN and hosts, and with CGNAT=1
# a carrier NAT cX between rX and core. With IPV6=1 every link of the side
# also gets its IPv6 addresses and routes (the file's header has the plan).
_lab_side() {
	local s=$1 flavour=$2 cgnat=$3 ipv6=$4 n core_ip wan_ip rwan plen=30 up h host
	local x core6 rwan6 up6
	if [[ $s == A ]]; then
		n=1 core_ip=$CORE_A wan_ip=$WAN_A x=a
	else
		n=2 core_ip=$CORE_B wan_ip=$WAN_B x=b
	fi
	rwan=$wan_ip up=$core_ip
	core6=2001:db8:$x::1 rwan6=2001:db8:$x::2 up6=$core6
	if ((cgnat)); then
		# The carrier takes the public /30; the home router sits in
		# 100.64.0.0/10 behind it, like a customer of a CGNAT ISP.
		_lab_uplink "$s" "c$s" || return 1
		_lab_link "c$s" lan "r$s" wan || return 1
		_lab_ip "c$s" <<-EOF || return 1
			link set lo up
			addr add $wan_ip/30 dev wan
			addr add 100.64.$n.1/24 dev lan
			link set wan up
			link set lan up
			route add default via $core_ip
		EOF
		_lab_sysctl "c$s" net.ipv4.ip_forward=1 || return 1
		_lab_router_nft home | lab_exec "c$s" nft -f - || return 1
		rwan=100.64.$n.2 plen=24 up=100.64.$n.1
		if ((ipv6)); then
			# The carrier only routes IPv6: no NAT66, no firewall.
			_lab_ip "c$s" <<-EOF || return 1
				addr add $rwan6/64 dev wan nodad
				addr add 2001:db8:$x:1::1/64 dev lan nodad
				route add default via $core6
				route add 2001:db8:$n::/64 via 2001:db8:$x:1::2
			EOF
			_lab_sysctl "c$s" net.ipv6.conf.all.forwarding=1 || return 1
			rwan6=2001:db8:$x:1::2 up6=2001:db8:$x:1::1
		fi
	else
		_lab_uplink "$s" "r$s" || return 1
	fi
	_lab_ip "r$s" <<-EOF || return 1
		link set lo up
		addr add $rwan/$plen dev wan
		link set wan up
		link add lan type bridge stp_state 0 forward_delay 0
		addr add 10.$n.0.1/24 dev lan
		link set lan up
		route add default via $up
	EOF
	if ((ipv6)); then
		_lab_ip "r$s" <<-EOF || return 1
			addr add $rwan6/64 dev wan nodad
			addr add 2001:db8:$n::1/64 dev lan nodad
			route add default via $up6
		EOF
		_lab_sysctl "r$s" net.ipv6.conf.all.forwarding=1 || return 1
	fi
	# A LAN switch does not firewall: keep bridged host-to-host frames out
	# of the router's IP hooks even when br_netfilter is loaded.
	_lab_sysctl "r$s" net.ipv4.ip_forward=1 \
		net.bridge.bridge-nf-call-iptables=0 \
		net.bridge.bridge-nf-call-ip6tables=0 \
		net.bridge.bridge-nf-call-arptables=0 || return 1
	_lab_router_nft "$flavour" "$ipv6" | lab_exec "r$s" nft -f - || return 1
	for h in 2 3; do
		[[ $s$h == B3 ]] && break # side B has one host
		host=h$s
		[[ $h == 3 ]] && host=hC
		_lab_link "r$s" "$host" "$host" eth0 || return 1
		_lab_ip "r$s" <<-EOF || return 1
			link set $host master lan
			link set $host up
		EOF
		_lab_ip "$host" <<-EOF || return 1
			link set lo up
			addr add 10.$n.0.$h/24 dev eth0
			link set eth0 up
			route add default via 10.$n.0.1
		EOF
		if ((ipv6)); then
			_lab_ip "$host" <<-EOF || return 1
				addr add 2001:db8:$n::$h/64 dev eth0 nodad
				route add default via 2001:db8:$n::1
			EOF
		fi
	done
	if [[ $s == A ]]; then RA_WAN=$rwan; else RB_WAN=$rwan; fi
}

# ---------------------------------------------------------------------------
# The WAN link (lab_up --wan-a / --wan-b)
#
# The kernel here has no netem, so the link is a program: wanlink holds a
# TUN device in each of the two namespaces and forwards the packets one
# sends into the other, through random loss, a rate with a drop-tail queue
# and a delay (tests/wanlink.c has the model). It runs in the host's
# namespace, not the lab's, so that lab_kill and lab_reset leave it up:
# it is part of the lab's wiring. Its pid and log are in _lab_wan_dir;
# lab_down stops it, and it ends by itself if the bats run (or the script
# that built the lab) dies, or after a day.

# The directory of this lab's links: wanlink binary, SIDE.pid, SIDE.log.
_lab_wan_dir() {
	echo "${TMPDIR:-/tmp}/$LAB.wan"
}

# _lab_wan_args SPEC: prints wanlink's options for SPEC, one a line, or
# fails with a message for an unknown key or a pair that is not KEY=VALUE.
# Values are checked by wanlink itself when it starts.
_lab_wan_args() {
	local kv
	local -a kvs
	IFS=, read -ra kvs <<<"$1"
	if ((${#kvs[@]} == 0)); then
		echo "lab_up: --wan: empty link spec" >&2
		return 1
	fi
	for kv in "${kvs[@]}"; do
		case ${kv%%=*} in
		delay | loss | rate | queue | seed | slots) ;;
		*)
			echo "lab_up: --wan: unknown key in '$kv' (want delay, loss, rate, queue, seed, slots)" >&2
			return 1
			;;
		esac
		if [[ $kv != *=?* ]]; then
			echo "lab_up: --wan: want KEY=VALUE, got '$kv'" >&2
			return 1
		fi
		printf -- '--%s\n%s\n' "${kv%%=*}" "${kv#*=}"
	done
}

# _lab_wan_bin: prints the path of a wanlink binary: $LAB_WANLINK if set,
# else one built from tests/wanlink.c into the lab's directory.
_lab_wan_bin() {
	local d src
	if [[ -n ${LAB_WANLINK-} ]]; then
		echo "$LAB_WANLINK"
		return 0
	fi
	d=$(_lab_wan_dir)
	src=$(dirname "${BASH_SOURCE[0]}")/wanlink.c
	if [[ ! -x $d/wanlink ]]; then
		mkdir -p "$d" &&
			${CC:-cc} -O2 -Wall -Wextra -o "$d/wanlink.tmp" "$src" &&
			mv "$d/wanlink.tmp" "$d/wanlink" || return 1
	fi
	echo "$d/wanlink"
}

# _lab_uplink SIDE NODE
# Joins NODE's "wan" to core's "ethSIDE": a veth, or with a link SPEC for
# SIDE (LAB_WAN_A or LAB_WAN_B) two TUN devices of the same names joined
# by wanlink. The addresses come later, as for a veth.
_lab_uplink() {
	local s=$1 node=$2 spec
	[[ $s == A ]] && spec=${LAB_WAN_A-} || spec=${LAB_WAN_B-}
	if [[ -z $spec ]]; then
		_lab_link "$node" wan core "eth$s"
		return
	fi
	_lab_wan_start "$s" "$spec" "$node" wan core "eth$s"
}

# _lab_wan_start SIDE SPEC NODE1 IF1 NODE2 IF2
# Creates TUN IF1 in NODE1 and IF2 in NODE2 and starts wanlink between
# them with SPEC (IF1's packets toward IF2 are "up"). Returns once it runs,
# or 1 with its log on stderr.
_lab_wan_start() {
	local s=$1 spec=$2 bin d pid n
	local -a args
	bin=$(_lab_wan_bin) || return 1
	d=$(_lab_wan_dir)
	mkdir -p "$d" || return 1
	mapfile -t args < <(_lab_wan_args "$spec") || return 1
	for n in "$3:$4" "$5:$6"; do
		# Room for bursts: the TUN queue drops what wanlink has not
		# read yet when it is full, and that would be loss unaccounted.
		ip -n "$LAB-${n%%:*}" tuntap add dev "${n#*:}" mode tun &&
			ip -n "$LAB-${n%%:*}" link set "${n#*:}" txqueuelen 4096 ||
			return 1
	done
	"$bin" "${args[@]}" --max-secs 86400 --parent "${BATS_ROOT_PID:-$$}" \
		"$LAB-$3:$4" "$LAB-$5:$6" </dev/null >"$d/$s.log" 2>&1 3>&- &
	pid=$!
	disown "$pid"
	echo "$pid" >"$d/$s.pid"
	if ! wait_for 5 _lab_wan_running "$d/$s.log" "$pid"; then
		echo "lab_up: wanlink for side $s did not start:" >&2
		cat "$d/$s.log" >&2
		return 1
	fi
}

# _lab_wan_running LOG PID: wanlink PID has attached both devices; fails
# at once (wait_for goes on) while it starts, and it must not be dead.
_lab_wan_running() {
	grep -q '^wanlink: up' "$1" 2>/dev/null && ! lab_pid_dead "$2"
}

# _lab_wan_stop: stops this lab's links (if any) and removes their
# directory. A pid is signalled only while it is still a wanlink.
_lab_wan_stop() {
	local d f pid
	d=$(_lab_wan_dir)
	[[ -d $d ]] || return 0
	for f in "$d"/*.pid; do
		[[ -f $f ]] || continue
		pid=$(<"$f")
		if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == wanlink* ]]; then
			kill "$pid" 2>/dev/null
			wait_for 2 lab_pid_dead "$pid" || kill -9 "$pid" 2>/dev/null
		fi
	done
	rm -rf "$d"
	return 0
}

# lab_wan_stats SIDE
# Prints the counters of side SIDE's (A or B) link, two lines:
#   wanlink: a>b in N lost N qdrop N full N out N outbytes N werr N big N
#   wanlink: b>a ...
# a>b is up (the side toward core), b>a down; they count since lab_up.
lab_wan_stats() {
	local d pid before
	d=$(_lab_wan_dir)
	pid=$(cat "$d/$1.pid" 2>/dev/null) || return 1
	before=$(grep -c '^wanlink: [ab]>' "$d/$1.log")
	kill -USR1 "$pid" || return 1
	wait_for 2 _lab_wan_lines "$d/$1.log" $((before + 2)) || return 1
	grep '^wanlink: [ab]>' "$d/$1.log" | tail -n 2
}

_lab_wan_lines() {
	(($(grep -c '^wanlink: [ab]>' "$1") >= $2))
}

# The build itself; lab_up cleans up when it fails.
_lab_build() {
	local nat_a=$1 nat_b=$2 cgnat_a=$3 cgnat_b=$4 public=$5 ipv6=$6 node
	_LAB_IFINDEX=100
	for node in $LAB_NODES; do
		ip netns add "$LAB-$node" || return 1
		# before any link exists, so that every interface inherits it
		if ((ipv6)); then _lab_ip6_on "$node" || return 1; fi
	done
	# core routes between the sides and is the mediator's host. It has no
	# firewall and no NAT: only connected routes, since all it ever sees
	# are the public addresses of the sides.
	_lab_ip core <<-EOF || return 1
		link set lo up
		addr add $MED1/32 dev lo
		addr add $MED2/32 dev lo
	EOF
	_lab_sysctl core net.ipv4.ip_forward=1 || return 1
	if ((ipv6)); then
		_lab_ip core <<-EOF || return 1
			addr add $MED6_1/128 dev lo
			addr add $MED6_2/128 dev lo
		EOF
		_lab_sysctl core net.ipv6.conf.all.forwarding=1 || return 1
	fi
	_lab_side A "$nat_a" "$cgnat_a" "$ipv6" || return 1
	_lab_side B "$nat_b" "$cgnat_b" "$ipv6" || return 1
	if ((public)); then
		_lab_link core ethP hP eth0 || return 1
		_lab_ip hP <<-EOF || return 1
			link set lo up
			addr add $HP/30 dev eth0
			link set eth0 up
			route add default via $CORE_P
		EOF
		if ((ipv6)); then
			_lab_ip hP <<-EOF || return 1
				addr add $HP6/64 dev eth0 nodad
				route add default via $CORE6_P
			EOF
		fi
	fi
	# core's ends of the links exist only now that the sides are built.
	{
		echo "addr add $CORE_A/30 dev ethA"
		echo "link set ethA up"
		echo "addr add $CORE_B/30 dev ethB"
		echo "link set ethB up"
		if ((public)); then
			echo "addr add $CORE_P/30 dev ethP"
			echo "link set ethP up"
		fi
		if ((ipv6)); then
			# Only the LANs and carrier links need routes: the
			# links to core are connected.
			echo "addr add $CORE6_A/64 dev ethA nodad"
			echo "addr add $CORE6_B/64 dev ethB nodad"
			echo "route add 2001:db8:1::/64 via $WAN6_A"
			echo "route add 2001:db8:2::/64 via $WAN6_B"
			((cgnat_a)) && echo "route add 2001:db8:a:1::/64 via $WAN6_A"
			((cgnat_b)) && echo "route add 2001:db8:b:1::/64 via $WAN6_B"
			((public)) && echo "addr add $CORE6_P/64 dev ethP nodad"
		fi
	} | _lab_ip core || return 1
	# Bridges have no peer and can take the slow path described at
	# _lab_link; wait for every link rather than lose the first packets.
	wait_for 5 _lab_links_up
}

# lab_up [--nat-a F] [--nat-b F] [--cgnat-a] [--cgnat-b] [--public-host]
#        [--ipv6] [--wan-a SPEC] [--wan-b SPEC]
# Builds a fresh lab, replacing any lab of the same prefix. F is one of
#   home       masquerade, forward and input drop all but replies (default)
#   accept     as home, but the router accepts unsolicited packets to itself
#   symmetric  as home, but masquerade fully-random
#   strict     as home, but lets in replies from 203.0.113.0/24 only
# --cgnat-a/-b put a carrier NAT cA/cB (home flavour) in front of rA/rB;
# --public-host adds hP, a host with a public address and no NAT;
# --ipv6 also gives every link IPv6 (no NAT66; rA and rB run a stateful
# IPv6 firewall, with "strict" letting in replies from 2001:db8::/64 only);
# --wan-a/-b SPEC replace the veth between core and side A's (B's) first
# router by a WAN link (tests/wanlink.c, see "The WAN link" below), with
# the same interface names and addresses. SPEC is KEY=VALUE[,...] with keys
# delay, loss, rate, queue, seed, slots, e.g. "delay=25ms,loss=1%,rate=400mbit"
# (values per direction as "UP/DOWN": side to core, then core to side).
# Chooses and exports LAB if it is unset. Exports the addresses above and
# LAB_NODES (the nodes built), LAB_NAT_A, LAB_NAT_B, LAB_CGNAT_A,
# LAB_CGNAT_B, LAB_PUBLIC_HOST, LAB_IPV6 (0 or 1), LAB_WAN_A, LAB_WAN_B (the
# SPECs, empty without). Returns 0, or 1 with nothing left behind, or 2 on
# a bad option.
lab_up() {
	local nat_a=home nat_b=home cgnat_a=0 cgnat_b=0 public=0 ipv6=0 f
	local wan_a="" wan_b=""
	while (($#)); do
		case $1 in
		--nat-a | --nat-b)
			f=${2-}
			case $f in
			home | accept | symmetric | strict) ;;
			*)
				echo "lab_up: $1: unknown NAT flavour '$f'" >&2
				return 2
				;;
			esac
			if [[ $1 == --nat-a ]]; then nat_a=$f; else nat_b=$f; fi
			shift 2
			;;
		--cgnat-a) cgnat_a=1 && shift ;;
		--cgnat-b) cgnat_b=1 && shift ;;
		--public-host) public=1 && shift ;;
		--ipv6) ipv6=1 && shift ;;
		--wan-a | --wan-b)
			_lab_wan_args "${2-}" >/dev/null || return 2
			if [[ $1 == --wan-a ]]; then wan_a=$2; else wan_b=$2; fi
			shift 2
			;;
		*)
			echo "lab_up: unknown option '$1'" >&2
			return 2
			;;
		esac
	done
	[[ -n ${LAB-} ]] || _lab_pick_prefix
	lab_down
	LAB_NODES="core rA hA hC rB hB"
	((cgnat_a)) && LAB_NODES+=" cA"
	((cgnat_b)) && LAB_NODES+=" cB"
	((public)) && LAB_NODES+=" hP"
	LAB_NAT_A=$nat_a LAB_NAT_B=$nat_b
	LAB_CGNAT_A=$cgnat_a LAB_CGNAT_B=$cgnat_b LAB_PUBLIC_HOST=$public
	LAB_IPV6=$ipv6 LAB_WAN_A=$wan_a LAB_WAN_B=$wan_b
	RA_WAN=$WAN_A RB_WAN=$WAN_B
	export LAB LAB_NODES LAB_NAT_A LAB_NAT_B LAB_CGNAT_A LAB_CGNAT_B \
		LAB_PUBLIC_HOST LAB_IPV6 LAB_WAN_A LAB_WAN_B MED1 MED2 CORE_A CORE_B CORE_P WAN_A \
		WAN_B HP RA_LAN RB_LAN HA HB HC CA_LAN CB_LAN MED6_1 MED6_2 \
		CORE6_A CORE6_B CORE6_P WAN6_A WAN6_B HP6 RA6_LAN RB6_LAN HA6 \
		HB6 HC6
	if ! _lab_build "$nat_a" "$nat_b" "$cgnat_a" "$cgnat_b" "$public" "$ipv6"; then
		echo "lab_up: building lab $LAB failed" >&2
		lab_down
		return 1
	fi
	export RA_WAN RB_WAN
}

# ---------------------------------------------------------------------------
# Impairments and measurements

# lab_loss PCT
# Drops PCT percent (0-100) of the packets core forwards, both ways, with a
# counter of what it dropped (see lab_loss_dropped). Replaces the previous
# setting and resets that counter; 0 removes the rule. Packets to and from
# the mediator addresses on core go through core's input and output hooks,
# not forward, so they are never dropped.
lab_loss() {
	local pct=$1
	if ! [[ $pct =~ ^[0-9]+$ ]] || ((pct > 100)); then
		echo "lab_loss: want a percentage 0-100, got '$pct'" >&2
		return 2
	fi
	# "table x" before "delete table x" makes the delete succeed even when
	# the table does not exist yet; the whole file applies atomically.
	{
		echo "table inet lab_loss"
		echo "delete table inet lab_loss"
		((pct == 0)) || cat <<-EOF
			table inet lab_loss {
				counter dropped { }
				chain fw {
					type filter hook forward priority -10; policy accept;
					numgen random mod 100 < $pct counter name "dropped" drop
				}
			}
		EOF
	} | lab_exec core nft -f -
}

# lab_loss_dropped: prints how many packets lab_loss has dropped so far.
lab_loss_dropped() {
	local n
	n=$(lab_exec core nft list counter inet lab_loss dropped 2>/dev/null |
		awk '$1 == "packets" { print $2 }') || true
	echo "${n:-0}"
}

# lab_counter NODE NAME MATCH...
# Counts the packets arriving at NODE from its links that match the nft
# expression MATCH (e.g. ip saddr 198.51.100.2 udp dport 7000). It counts in
# prerouting before conntrack, so it sees packets that NODE later drops.
# Read it with lab_count. NAME must be new (lab_reset forgets them all).
lab_counter() {
	local node=$1 name=$2
	shift 2
	lab_exec "$node" nft -f - <<-EOF
		table ip lab_count {
			counter $name { }
			chain pre {
				type filter hook prerouting priority -300; policy accept;
			}
		}
		add rule ip lab_count pre $* counter name "$name"
	EOF
}

# lab_count NODE NAME: prints the packet count of counter NAME in NODE.
lab_count() {
	lab_exec "$1" nft list counter ip lab_count "$2" | awk '$1 == "packets" { print $2 }'
}

# lab_mapped_port ROUTER SRC SPORT
# Prints the public source port ROUTER's NAT gave to UDP flows from
# SRC:SPORT, one line per flow, read from conntrack.
lab_mapped_port() {
	lab_exec "$1" conntrack -L -p udp --orig-src "$2" --orig-port-src "$3" 2>/dev/null |
		awk '{ n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^dport=/ && ++n == 2) { sub(/dport=/, "", $i); print $i } }'
}

# ---------------------------------------------------------------------------
# UDP tools built on socat

# lab_udp_send NODE DST PORT [COUNT [SOCAT_OPTS]]
# Sends COUNT (default 1) datagrams from NODE to DST:PORT, numbered
# 0000001, 0000002, ... (8 bytes each, newline included). SOCAT_OPTS are
# extra socat address options, e.g. "sourceport=4000,ttl=2" or
# "bind=203.0.113.2:5000,reuseaddr".
lab_udp_send() {
	local node=$1 dst=$2 port=$3 count=${4:-1} opts=${5:+,$5}
	# seq writes whole 8-byte records (its 4096-byte writes are a multiple
	# of 8) and socat reads at most 8 bytes at a time, so every record
	# becomes exactly one datagram, sent as fast as the kernel takes them.
	seq -f '%07.0f' 1 "$count" |
		ip netns exec "$LAB-$node" socat -u -b 8 - "UDP-SENDTO:$dst:$port$opts"
}

# lab_udp_reflector NODE ADDR PORT LOG
# A "what is my address" server, like the STUN part of a mediator: answers
# each datagram to ADDR:PORT with the sender's "address:port" as it arrived
# (after every NAT on the way), and appends that line to LOG. socat's own
# messages go to LOG.socat. Returns once the port is bound. It binds ADDR,
# not the wildcard, so that answers leave from the address the client
# wrote to; otherwise the client's NAT would drop them (NAT-NOTES.md).
lab_udp_reflector() {
	local node=$1 addr=$2 port=$3 log=$4
	: >"$log"
	# The log path travels in the environment, so socat's address parser
	# never sees its characters. The command reads the datagram (one read)
	# before it answers: if it exited without reading, socat could find
	# the pipe closed when it writes the datagram in, and die of EPIPE
	# without sending the answer.
	# shellcheck disable=SC2016 # SYSTEM's shell expands these, not us
	lab_bg "$node" "$log.socat" env REFLECT_LOG="$log" \
		socat "UDP-RECVFROM:$port,bind=$addr,reuseaddr,fork" \
		SYSTEM:'dd bs=65536 count=1 status=none >/dev/null; echo "$SOCAT_PEERADDR:$SOCAT_PEERPORT" | tee -a "$REFLECT_LOG"'
	wait_udp_port "$node" "$port"
}

# lab_udp_client NODE DST PORT SPORT LOG
# Opens one UDP socket in NODE on SPORT, sends "hello" to DST:PORT, and
# appends every datagram the socket receives afterwards, from anyone, to
# LOG, until killed (LAB_BG_PID). socat's own messages go to LOG too.
lab_udp_client() {
	local node=$1 dst=$2 port=$3 sport=$4 log=$5
	# SYSTEM's stdout goes to the peer, so what it receives is written to
	# stderr, which is the log; an echo to stdout would ping-pong forever.
	lab_bg "$node" "$log" \
		socat "UDP-SENDTO:$dst:$port,sourceport=$sport,reuseaddr" \
		SYSTEM:'echo hello; exec cat >&2'
}

# lab_whoami NODE DST PORT SPORT [TIMEOUT_SECS]
# Asks the reflector at DST:PORT from NODE's local port SPORT and prints the
# answer, the public "address:port" of that socket. Fails if no answer comes
# within TIMEOUT_SECS (default 5): the reply path is part of the check.
lab_whoami() {
	local node=$1 dst=$2 port=$3 sport=$4 timeout=${5:-5} log rc=0 pid
	log=$(mktemp)
	lab_udp_client "$node" "$dst" "$port" "$sport" "$log"
	pid=$LAB_BG_PID
	wait_for "$timeout" grep -qE '^[0-9.]+:[0-9]+$' "$log" || rc=1
	# Gone before we return, so that the next client on SPORT is alone.
	kill "$pid" 2>/dev/null || true
	wait_for 5 lab_pid_dead "$pid" || true
	grep -m1 -E '^[0-9.]+:[0-9]+$' "$log" || true
	rm -f "$log"
	return "$rc"
}

# ---------------------------------------------------------------------------
# Port mapping: miniupnpd on a home router

# The STUN server that lab_portmap's miniupnpd asks: lab_stun_server
# runs it on core, at MED1 and MED2, port LAB_STUN_PORT (and the port
# after it). It is pnc's mediator as of LAB_STUN_BASE (issue 18's
# merge-base; lab_build_at builds it): miniupnpd's check sends bare
# Binding requests, and since issue 16 a mediator answers only padded
# ones (it never sends more than it got from an unverified source), so
# today's mediator leaves miniupnpd without an answer, and miniupnpd
# then never listens for NAT-PMP/PCP.
# shellcheck disable=SC2034 # used by the files that source this one
LAB_STUN_BASE=322a88e
LAB_STUN_PORT=7400

# lab_build_at COMMIT DIR
# pnc as of COMMIT (git archive of the repository this file is in),
# built in DIR: DIR/pnc. Returns 0, or make's (or git's) failure.
lab_build_at() {
	local top
	top=$(dirname "${BASH_SOURCE[0]}")/..
	mkdir -p "$2" || return 1
	git -C "$top" archive "$1" | tar -x -C "$2" || return 1
	make -C "$2" pnc >/dev/null 2>&1
}

# lab_stun_server BIN LOG
# BIN's mediator on core's two addresses at LAB_STUN_PORT, as the STUN
# server of lab_portmap (BIN: a build of LAB_STUN_BASE, see above), its
# output in LOG. Returns once it listens (0), or 1 after 5 s;
# LAB_STUN_PID is its pid.
lab_stun_server() {
	lab_bg core "$2" "$1" mediate -s "$MED1" -s "$MED2" -p "$LAB_STUN_PORT"
	# shellcheck disable=SC2034 # for the caller
	LAB_STUN_PID=$LAB_BG_PID
	wait_udp_port core "$LAB_STUN_PORT"
}

# lab_portmap A|B DIR [STUN_ADDR [STUN_PORT]]
# Runs miniupnpd (Debian's nftables build) on rA or rB, serving NAT-PMP
# and PCP (UDP 5351) to its LAN, with its config, log (DIR/upnp.log) and
# lease file in DIR. It learns its public address with STUN from
# STUN_ADDR:STUN_PORT (default: MED1:LAB_STUN_PORT, lab_stun_server's),
# since it refuses to map while its WAN address is in a documentation
# range; it maps only once that check says "Port forwarding is now
# enabled" (see lab_portmap_ready). The
# router gets what miniupnpd's nftables backend expects and does not
# create (NAT-NOTES.md): a table inet miniupnpd with its chains and base
# chains that jump into them; a forward rule that accepts what its DNAT
# let in ("ct status dnat": its own accept does not override the
# router's drop policy); the router's own packets kept out of a
# fully-random masquerade (its STUN check would conclude it is behind
# another NAT) and the STUN answers let in, from the server's other
# address and port too (RFC 5780: it decides from the answers to its
# CHANGE-REQUESTs whether inbound mappings would work). Returns once it
# listens (0), or 1 after 10 s; LAB_PORTMAP_PID is its pid. Lines in
# LAB_PORTMAP_CONF are added to its configuration.
lab_portmap() {
	local side=$1 dir=$2 stun=${3:-$MED1} sport=${4:-$LAB_STUN_PORT}
	local r lan wan
	if [[ $side == A ]]; then r=rA lan=10.1.0.0/24 wan=$RA_WAN
	else r=rB lan=10.2.0.0/24 wan=$RB_WAN; fi
	mkdir -p "$dir"
	rm -f "$dir/upnp.log" "$dir/leases"
	lab_exec "$r" nft -f - <<-EOF || return 1
		table inet miniupnpd {
			chain forward {
				type filter hook forward priority -5; policy accept;
				jump miniupnpd
			}
			chain miniupnpd {
			}
			chain prerouting {
				type nat hook prerouting priority -100; policy accept;
				jump prerouting_miniupnpd
			}
			chain postrouting {
				type nat hook postrouting priority 90; policy accept;
				jump postrouting_miniupnpd
			}
			chain prerouting_miniupnpd {
			}
			chain postrouting_miniupnpd {
			}
		}
		insert rule ip nat post ip saddr $wan accept
		insert rule ip filter fw ct status dnat accept
		insert rule ip filter in iifname "wan" udp sport { $sport, $((sport + 1)) } accept
	EOF
	cat >"$dir/miniupnpd.conf" <<-EOF
		ext_ifname=wan
		listening_ip=lan
		enable_natpmp=yes
		enable_upnp=no
		secure_mode=yes
		system_uptime=yes
		uuid=451b5b03-f388-4dc0-adf0-b4bcafcbefe8
		ext_perform_stun=yes
		ext_stun_host=$stun
		ext_stun_port=$sport
		upnp_table_name=miniupnpd
		upnp_nat_table_name=miniupnpd
		upnp_forward_chain=miniupnpd
		upnp_nat_chain=prerouting_miniupnpd
		upnp_nat_postrouting_chain=postrouting_miniupnpd
		lease_file=$dir/leases
		allow 1024-65535 $lan 1024-65535
		deny 0-65535 0.0.0.0/0 0-65535
		${LAB_PORTMAP_CONF-}
	EOF
	# At a high priority: a router's daemon has its CPU to itself, and a
	# gateway slower than pnc's 20 ms to answer at all (the machine's
	# other load) would test that load, not the mapping.
	lab_bg "$r" "$dir/upnp.log" nice -n -15 miniupnpd -d \
		-f "$dir/miniupnpd.conf" -P "$dir/miniupnpd.pid"
	LAB_PORTMAP_PID=$LAB_BG_PID
	wait_for 10 grep -qs "Listening for NAT-PMP/PCP" "$dir/upnp.log"
}

# lab_portmap_ready DIR
# lab_portmap's miniupnpd in DIR has passed its STUN check: it maps.
lab_portmap_ready() {
	grep -q "Port forwarding is now enabled" "$1/upnp.log"
}
