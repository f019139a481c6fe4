/*
 * wanlink.c - a userspace WAN link for pnc's lab: this kernel has no netem.
 *
 *	wanlink [--delay T] [--loss P] [--rate R] [--queue Q] [--seed N]
 *	    [--slots N] [--max-secs S] [--parent PID] NETNS:IF NETNS:IF
 *
 * Attaches to (or creates) a TUN device IF in each network namespace
 * NETNS (a name under /run/netns or a path) and forwards the IP packets
 * each one sends into the other, per direction through:
 *
 *	random loss  each packet is dropped with probability P (a seeded
 *		     PRNG per direction, so that a run can be repeated);
 *	bottleneck   a link of R bit/s: a packet leaves once it has been
 *		     serialised behind those queued before it (a token bucket
 *		     one packet deep), and is dropped at arrival when the
 *		     backlog ahead of it already holds Q (drop-tail; 100 ms
 *		     unless set; a queue needs a rate, and a rate a queue);
 *	delay        then a fixed propagation delay T.
 *
 * Packets are never reordered: release times only grow. Each value may be
 * "X/Y": X for the first endpoint's packets toward the second, Y for the
 * way back. T and Q take us, ms or s (Q also b, kb, mb: bytes); R takes
 * bit, kbit, mbit, gbit; P takes a percentage ("1%") or a fraction.
 *
 * One poll loop, non-blocking reads in batches into a preallocated ring
 * per direction (no allocation per packet), release times from the
 * monotonic clock. It runs until SIGTERM or SIGINT, --max-secs (default
 * 3600), or the death of --parent; SIGUSR1 prints the counters, and so does
 * the end, on stderr:
 *
 *	wanlink: a>b in N lost N qdrop N full N out N outbytes N werr N big N
 *
 * (lost: random loss; qdrop: bottleneck queue full; full: ring full; werr:
 * failed writes; big: larger than the MTU the devices had at the start). Exit status 0 at the end of a run, 1 on an error, 2 on a
 * usage error.
 *
 * Three small tools measure such a link from its two sides (IPv4, UDP):
 *
 *	wanlink echo PORT [ADDR]
 *	wanlink sink PORT [ADDR]
 *	wanlink probe ADDR PORT COUNT INTERVAL_US SIZE
 *
 * echo sends every datagram back to its sender, for 600 s at most. sink
 * counts datagrams and, once none has come for a second (or none at all
 * in 60 s), prints "pkts N bytes B secs S mbit M": S from the first
 * arrival to the last, M the IP rate (28 bytes of header a datagram).
 * probe sends COUNT datagrams of SIZE bytes, one every INTERVAL_US
 * (catching up in bursts when late), collects the echoes until 3 s after
 * the last send and prints "sent N recv M rtt_min X rtt_med X rtt_p99 X
 * rtt_max X" (ms). Against a sink, probe is a paced UDP source.
 *
 *	wanlink stamp FILE
 *
 * copies its input to FILE and prints "bytes B secs S", S from the first
 * byte to the last: a receiver's goodput, without its setup, and
 * without the time the writer takes to exit (pnc -R lingers to answer
 * resends).
 *
 *	cc -O2 -Wall -Wextra -o wanlink tests/wanlink.c
 */
#define _GNU_SOURCE

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define NS		1000000000ULL
#define BATCH		256		/* packets read per wakeup and fd */
#define DEF_SLOTS	8192		/* per direction, at least */
#define DEF_QUEUE	(100 * 1000000ULL)	/* ns, when there is a rate */
#define SLACK		50000UL		/* ns a release may come late */

/* One packet in a ring: when it may leave, and its bytes. */
struct slot {
	uint64_t	 release;	/* monotonic ns */
	uint32_t	 len;
};

/* One direction of the link, from fd in to fd out. */
struct dir {
	const char	*name;		/* "a>b" or "b>a" */
	int		 in, out;
	/* settings */
	uint64_t	 delay;		/* ns */
	double		 loss;		/* probability 0..1 */
	uint64_t	 rate;		/* bit/s, 0: unlimited */
	uint64_t	 queue;		/* ns of backlog (0 only without a rate) */
	uint64_t	 rng;		/* splitmix64 state */
	/* the ring: nslots slots of slotsz bytes of packet each */
	struct slot	*slots;
	unsigned char	*data;
	size_t		 nslots, slotsz, head, count;
	uint64_t	 next_free;	/* when the bottleneck is idle, ns */
	/* counters */
	uint64_t	 n_in, n_lost, n_qdrop, n_full, n_out, b_out, n_werr;
	uint64_t	 n_big;
};

static volatile sig_atomic_t	 stop_sig;	/* SIGTERM or SIGINT seen */
static volatile sig_atomic_t	 stats_sig;	/* SIGUSR1 seen */

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: wanlink [--delay T] [--loss P] [--rate R] [--queue Q] "
	    "[--seed N]\n"
	    "               [--slots N] [--max-secs S] [--parent PID] "
	    "NETNS:IF NETNS:IF\n"
	    "       values may be X/Y: X first->second, Y second->first\n"
	    "       wanlink echo PORT [ADDR] | sink PORT [ADDR]\n"
	    "       wanlink probe ADDR PORT COUNT INTERVAL_US SIZE\n"
	    "       wanlink stamp FILE\n");
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* splitmix64: small, fast, and good enough to draw losses from. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * Parses a number with a unit suffix from units[] (name, multiplier),
 * where a bare number takes the multiplier of bare (0: not allowed).
 * Stores the product in *out and which unit matched in *which. Returns 0,
 * or -1 on anything else (negative, junk, overflow).
 */
struct unit {
	const char	*name;
	double		 mult;
};

static int
parse_unit(const char *s, const struct unit *units, double bare,
    double *out, int *which)
{
	char *end;
	double v;
	int i;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || !(v >= 0) || v > 1e15)
		return -1;
	if (*end == '\0') {
		if (bare == 0)
			return -1;
		*out = v * bare;
		*which = -1;
		return 0;
	}
	for (i = 0; units[i].name != NULL; i++)
		if (strcasecmp(end, units[i].name) == 0) {
			*out = v * units[i].mult;
			*which = i;
			return 0;
		}
	return -1;
}

static const struct unit time_units[] = {
	{ "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { NULL, 0 }
};
/* Queue limits: the time ones first (index < 3), then bytes. */
static const struct unit queue_units[] = {
	{ "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
	{ "b", 1 }, { "kb", 1e3 }, { "mb", 1e6 }, { NULL, 0 }
};
static const struct unit rate_units[] = {
	{ "bit", 1 }, { "kbit", 1e3 }, { "mbit", 1e6 }, { "gbit", 1e9 },
	{ NULL, 0 }
};
static const struct unit loss_units[] = { { "%", 0.01 }, { NULL, 0 } };

/*
 * Splits "X/Y" (or "X", meaning "X/X") of option opt into its two halves,
 * parses each with fn into d[0] and d[1]. Exits on a bad value.
 */
static void
parse_pair(const char *opt, const char *arg, struct dir *d,
    int (*fn)(const char *, struct dir *))
{
	char buf[64], *slash;

	if (strlen(arg) >= sizeof(buf))
		errx(2, "--%s: value too long: %s", opt, arg);
	strcpy(buf, arg);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash++ = '\0';
	if (fn(buf, &d[0]) == -1 || fn(slash ? slash : buf, &d[1]) == -1)
		errx(2, "--%s: bad value '%s'", opt, arg);
}

static int
set_delay(const char *s, struct dir *d)
{
	double v;
	int u;

	if (parse_unit(s, time_units, 0, &v, &u) == -1 || v > 60e9)
		return -1;
	d->delay = (uint64_t)v;
	return 0;
}

static int
set_loss(const char *s, struct dir *d)
{
	double v;
	int u;

	if (parse_unit(s, loss_units, 1, &v, &u) == -1 || v > 1)
		return -1;
	d->loss = v;
	return 0;
}

static int
set_rate(const char *s, struct dir *d)
{
	double v;
	int u;

	if (parse_unit(s, rate_units, 0, &v, &u) == -1 ||
	    (v != 0 && v < 8000))
		return -1;
	d->rate = (uint64_t)v;
	return 0;
}

/* A queue in bytes is kept as bytes until the rate is known: negated. */
static int
set_queue(const char *s, struct dir *d)
{
	double v;
	int u;

	if (parse_unit(s, queue_units, 0, &v, &u) == -1 || v > 60e9)
		return -1;
	d->queue = (uint64_t)v;
	if (u >= 3)
		d->queue = -(uint64_t)v;	/* bytes, see finish_dir */
	return 0;
}

/* Range-checked unsigned conversion; exits on a bad value. */
static unsigned long long
parse_num(const char *opt, const char *s, unsigned long long max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v > max)
		errx(2, "--%s: bad value '%s'", opt, s);
	return v;
}

/* The MTU of device ifname in the current namespace, or -1. */
static int
if_mtu(const char *ifname)
{
	struct ifreq ifr;
	int s, rc;

	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	rc = ioctl(s, SIOCGIFMTU, &ifr);
	close(s);
	return rc == -1 ? -1 : ifr.ifr_mtu;
}

/*
 * Opens the TUN device ifname inside the network namespace ns (a name
 * under /run/netns, or a path): a TUN device belongs to the namespace of
 * the process that opens /dev/net/tun, so enter it first, then come back.
 * Returns the non-blocking fd and the device's MTU in *mtu, or -1 with
 * errno set.
 */
static int
tun_open(const char *ns, const char *ifname, int home, int *mtu)
{
	char path[PATH_MAX];
	struct ifreq ifr;
	int nsfd, fd, saved;

	if (strlen(ifname) >= IFNAMSIZ) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (strchr(ns, '/') == NULL)
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
	else
		snprintf(path, sizeof(path), "%s", ns);
	if ((nsfd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (setns(nsfd, CLONE_NEWNET) == -1) {
		saved = errno;
		close(nsfd);
		errno = saved;
		return -1;
	}
	close(nsfd);
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd != -1) {
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
		memcpy(ifr.ifr_name, ifname, strlen(ifname));
		if (ioctl(fd, TUNSETIFF, &ifr) == -1 ||
		    (*mtu = if_mtu(ifname)) == -1) {
			saved = errno;
			close(fd);
			fd = -1;
			errno = saved;
		}
	}
	saved = errno;
	if (setns(home, CLONE_NEWNET) == -1)
		err(1, "setns back to the home namespace");
	errno = saved;
	return fd;
}

/*
 * Turns the settings of d into what the loop uses (a byte queue into ns)
 * and allocates its ring: enough slots for the bytes the link can hold in
 * its queue and delay line, counted as 256-byte packets (the ring full
 * counter shows when that is too few), but at least min_slots, plus a
 * spare one to read into when it is full. Returns 0, or -1 (no memory).
 */
static int
finish_dir(struct dir *d, size_t slotsz, size_t min_slots)
{
	double hold;

	if ((int64_t)d->queue < 0) {
		if (d->rate == 0)
			return errno = EINVAL, -1;
		d->queue = (uint64_t)((double)-d->queue * 8e9 / (double)d->rate);
	}
	if (d->queue != 0 && d->rate == 0)
		return errno = EINVAL, -1;
	if (d->rate != 0 && d->queue == 0)
		d->queue = DEF_QUEUE;
	d->nslots = min_slots;
	if (d->rate != 0 && d->queue != 0) {
		hold = (double)d->rate / 8 * (double)(d->queue + d->delay) / 1e9;
		if (hold / 256 > (double)d->nslots)
			d->nslots = (size_t)(hold / 256) + 1;
		if (d->nslots > 1u << 22)
			d->nslots = 1u << 22;
	}
	d->slotsz = slotsz;
	d->slots = calloc(d->nslots, sizeof(*d->slots));
	d->data = malloc((d->nslots + 1) * slotsz);
	if (d->slots == NULL || d->data == NULL)
		return -1;
	return 0;
}

/*
 * Decides the fate of a packet of len bytes that arrived at now: -1 to drop
 * it (its counter bumped), or 0 with its release time in *rel.
 */
static int
admit(struct dir *d, size_t len, uint64_t now, uint64_t *rel)
{
	uint64_t start, dep;

	if (d->loss > 0 &&
	    (double)(rng_next(&d->rng) >> 11) * 0x1p-53 < d->loss) {
		d->n_lost++;
		return -1;
	}
	dep = now;
	if (d->rate != 0) {
		start = d->next_free > now ? d->next_free : now;
		if (d->queue != 0 && start - now > d->queue) {
			d->n_qdrop++;
			return -1;
		}
		dep = start + (uint64_t)len * 8 * NS / d->rate;
		d->next_free = dep;
	}
	*rel = dep + d->delay;
	return 0;
}

/*
 * Reads up to BATCH packets from d->in into the ring's free slots,
 * admitting or dropping each. When the ring is full a packet is read into
 * the spare slot past the end and dropped, so that the kernel's own queue
 * never fills unseen. Returns 0, or -1 on a read error but EAGAIN.
 */
static int
dir_read(struct dir *d, uint64_t now)
{
	unsigned char *buf;
	size_t tail;
	ssize_t n;
	int i;

	for (i = 0; i < BATCH; i++) {
		tail = (d->head + d->count) % d->nslots;
		buf = d->count < d->nslots ? d->data + tail * d->slotsz :
		    d->data + d->nslots * d->slotsz;
		if ((n = read(d->in, buf, d->slotsz)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -1;
		}
		d->n_in++;
		if ((size_t)n >= d->slotsz) {
			d->n_big++;	/* the MTU grew after the start */
			continue;
		}
		if (d->count == d->nslots) {
			d->n_full++;
			continue;
		}
		if (admit(d, (size_t)n, now, &d->slots[tail].release) == -1)
			continue;
		d->slots[tail].len = (uint32_t)n;
		d->count++;
	}
	return 0;
}

/* Writes every packet due at now. Returns when the next is due, or 0. */
static uint64_t
dir_release(struct dir *d, uint64_t now)
{
	struct slot *s;

	while (d->count > 0) {
		s = &d->slots[d->head];
		if (s->release > now)
			return s->release;
		if (write(d->out, d->data + d->head * d->slotsz, s->len) == -1) {
			/* The first says why; the counter says how often. */
			if (d->n_werr++ == 0)
				warn("%s: write", d->name);
		} else {
			d->n_out++;
			d->b_out += s->len;
		}
		d->head = (d->head + 1) % d->nslots;
		d->count--;
	}
	return 0;
}

static void
print_stats(const struct dir *d)
{
	fprintf(stderr, "wanlink: %s in %llu lost %llu qdrop %llu full %llu "
	    "out %llu outbytes %llu werr %llu big %llu\n", d->name,
	    (unsigned long long)d->n_in, (unsigned long long)d->n_lost,
	    (unsigned long long)d->n_qdrop, (unsigned long long)d->n_full,
	    (unsigned long long)d->n_out, (unsigned long long)d->b_out,
	    (unsigned long long)d->n_werr, (unsigned long long)d->n_big);
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		stats_sig = 1;
	else
		stop_sig = 1;
}

/*
 * Blocks the signals the loop handles and installs their handler; sets
 * *waitmask to the mask for ppoll, which lets them in.
 */
static void
signals_setup(sigset_t *waitmask)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGUSR1 };
	struct sigaction sa;
	sigset_t block;
	size_t i;

	sigemptyset(&block);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&block, sigs[i]);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigdelset(waitmask, sigs[i]);
		sigaction(sigs[i], &sa, NULL);
	}
	signal(SIGPIPE, SIG_IGN);
}

/*
 * The loop: poll both devices for input with a timeout of the earliest
 * release, read what came, write what is due. Signals are blocked but
 * inside ppoll, so that none is lost between a check and the wait.
 * Returns 0 at a normal end, or -1 on an error (errno set).
 */
static int
run(struct dir *d, uint64_t end, pid_t parent, const sigset_t *waitmask)
{
	struct pollfd pfd[2];
	struct timespec ts;
	uint64_t now, next, r, last_check = 0;
	int i;

	pfd[0].fd = d[0].in;
	pfd[1].fd = d[1].in;
	pfd[0].events = pfd[1].events = POLLIN;
	while (!stop_sig) {
		now = now_ns();
		if (now >= end)
			break;
		if (now - last_check >= NS) {
			last_check = now;
			if (parent > 0 && kill(parent, 0) == -1 && errno == ESRCH)
				break;
		}
		next = now + NS;	/* at least once a second, for parent */
		if (end < next)
			next = end;
		for (i = 0; i < 2; i++)
			if ((r = dir_release(&d[i], now)) != 0 && r < next)
				next = r;
		ts.tv_sec = (time_t)((next - now) / NS);
		ts.tv_nsec = (long)((next - now) % NS);
		if (ppoll(pfd, 2, &ts, waitmask) == -1) {
			if (errno != EINTR)
				return -1;
		}
		if (stats_sig) {
			stats_sig = 0;
			print_stats(&d[0]);
			print_stats(&d[1]);
		}
		now = now_ns();
		for (i = 0; i < 2; i++) {
			if (pfd[i].revents & (POLLERR | POLLNVAL))
				return errno = EIO, -1;
			if ((pfd[i].revents & POLLIN) && dir_read(&d[i], now) == -1)
				return -1;
		}
	}
	return 0;
}

/* Splits "NETNS:IF" at its last colon. Exits on a bad one. */
static void
split_end(char *arg, char **ns, char **ifname)
{
	char *c = strrchr(arg, ':');

	if (c == NULL || c == arg || c[1] == '\0')
		errx(2, "bad endpoint '%s': want NETNS:IF", arg);
	*c = '\0';
	*ns = arg;
	*ifname = c + 1;
}

static int
link_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "delay", required_argument, NULL, 'd' },
		{ "loss", required_argument, NULL, 'l' },
		{ "rate", required_argument, NULL, 'r' },
		{ "queue", required_argument, NULL, 'q' },
		{ "seed", required_argument, NULL, 's' },
		{ "slots", required_argument, NULL, 'n' },
		{ "max-secs", required_argument, NULL, 'm' },
		{ "parent", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct dir d[2];
	sigset_t waitmask;
	char *ns[2], *ifn[2];
	unsigned long long seed = 1, max_secs = 3600, slots = DEF_SLOTS;
	pid_t parent = 0;
	int ch, home, fd[2], mtu[2], i;
	size_t slotsz;

	memset(d, 0, sizeof(d));
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': parse_pair("delay", optarg, d, set_delay); break;
		case 'l': parse_pair("loss", optarg, d, set_loss); break;
		case 'r': parse_pair("rate", optarg, d, set_rate); break;
		case 'q': parse_pair("queue", optarg, d, set_queue); break;
		case 's': seed = parse_num("seed", optarg, ULLONG_MAX); break;
		case 'n': slots = parse_num("slots", optarg, 1u << 22); break;
		case 'm': max_secs = parse_num("max-secs", optarg, 86400 * 7);
			break;
		case 'p': parent = (pid_t)parse_num("parent", optarg, INT_MAX);
			break;
		default: usage();
		}
	}
	if (argc - optind != 2 || slots == 0)
		usage();
	for (i = 0; i < 2; i++)
		split_end(argv[optind + i], &ns[i], &ifn[i]);

	if ((home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) == -1)
		err(1, "/proc/self/ns/net");
	for (i = 0; i < 2; i++)
		if ((fd[i] = tun_open(ns[i], ifn[i], home, &mtu[i])) == -1)
			err(1, "TUN %s in namespace %s", ifn[i], ns[i]);
	close(home);
	/*
	 * A slot holds the largest packet either device may send (offloads
	 * are off, so that is its MTU) and a little more: a read that fills
	 * a slot exactly may have been truncated, so it is refused as such.
	 */
	slotsz = (size_t)(mtu[0] > mtu[1] ? mtu[0] : mtu[1]) + 64;

	d[0].name = "a>b", d[0].in = fd[0], d[0].out = fd[1];
	d[1].name = "b>a", d[1].in = fd[1], d[1].out = fd[0];
	for (i = 0; i < 2; i++) {
		/* Distinct, reproducible streams per direction. */
		d[i].rng = seed * 2 + (uint64_t)i;
		if (finish_dir(&d[i], slotsz, slots) == -1)
			err(1, "%s: a queue needs a rate, or no memory for "
			    "%zu slots", d[i].name, d[i].nslots);
	}

	/*
	 * Timer slack lets the kernel wake us up to SLACK late, and so
	 * release several packets a wakeup: at 400 Mbit/s one every 30 us
	 * would cost a context switch each. Against delays of milliseconds
	 * that is nothing; at a rate it is a burst of at most SLACK's worth.
	 */
	prctl(PR_SET_TIMERSLACK, SLACK);
	signals_setup(&waitmask);

	fprintf(stderr, "wanlink: up %s:%s <-> %s:%s\n", ns[0], ifn[0],
	    ns[1], ifn[1]);
	if (run(d, now_ns() + max_secs * NS, parent, &waitmask) == -1)
		err(1, "forwarding");
	print_stats(&d[0]);
	print_stats(&d[1]);
	return 0;
}

/* ------------------------------------------------------------------------
 * The measuring tools
 */

/*
 * A UDP socket bound to addr (NULL: every address) and port, or -1.
 * Behind a NAT, an answer must leave from the address the client wrote
 * to, which the wildcard does not promise: an echo binds its address.
 */
static int
udp_bound(const char *addr, unsigned long port)
{
	struct sockaddr_in sin;
	int s, sz = 4 << 20;

	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	/* Bursts of a blast must not overflow the socket before we read. */
	setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if ((addr != NULL && inet_pton(AF_INET, addr, &sin.sin_addr) != 1) ||
	    bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(s);
		return -1;
	}
	return s;
}

static int
echo_main(int argc, char **argv)
{
	unsigned char buf[65536];
	struct sockaddr_storage ss;
	socklen_t sl;
	ssize_t n;
	int s;

	if (argc != 3 && argc != 4)
		usage();
	if ((s = udp_bound(argc == 4 ? argv[3] : NULL,
	    parse_num("port", argv[2], 65535))) == -1)
		err(1, "udp port %s", argv[2]);
	alarm(600);
	for (;;) {
		sl = sizeof(ss);
		n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
		if (n == -1 && errno != EINTR)
			err(1, "recvfrom");
		if (n >= 0)
			sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&ss, sl);
	}
}

static int
sink_main(int argc, char **argv)
{
	unsigned char buf[65536];
	struct pollfd pfd;
	uint64_t first = 0, last = 0, pkts = 0, bytes = 0, t;
	double secs;
	ssize_t n;

	if (argc != 3 && argc != 4)
		usage();
	if ((pfd.fd = udp_bound(argc == 4 ? argv[3] : NULL,
	    parse_num("port", argv[2], 65535))) == -1)
		err(1, "udp port %s", argv[2]);
	pfd.events = POLLIN;
	while (poll(&pfd, 1, pkts ? 1000 : 60000) > 0) {
		while ((n = recv(pfd.fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
			t = now_ns();
			if (pkts++ == 0)
				first = t;
			last = t;
			bytes += (uint64_t)n;
		}
	}
	secs = (double)(last - first) / 1e9;
	printf("pkts %llu bytes %llu secs %.3f mbit %.2f\n",
	    (unsigned long long)pkts, (unsigned long long)bytes, secs,
	    secs > 0 ? (double)(bytes + 28 * pkts) * 8 / secs / 1e6 : 0.0);
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Reads every echo waiting on s into rtt[] (by the sequence number it
 * carries, once each). Returns how many it took. */
static size_t
probe_collect(int s, uint64_t *rtt, unsigned char *seen, uint64_t count)
{
	unsigned char buf[65536];
	uint64_t seq, sent;
	size_t got = 0;
	ssize_t n;

	while ((n = recv(s, buf, sizeof(buf), MSG_DONTWAIT)) >= 16) {
		memcpy(&seq, buf, 8);
		memcpy(&sent, buf + 8, 8);
		if (seq >= count || seen[seq])
			continue;
		seen[seq] = 1;
		rtt[got++] = now_ns() - sent;
	}
	return got;
}

static int
probe_main(int argc, char **argv)
{
	unsigned char buf[65536], *seen;
	struct sockaddr_in sin;
	struct pollfd pfd;
	uint64_t count, ival, size, i = 0, *rtt, start, due, now, end = 0;
	size_t got = 0;

	if (argc != 7)
		usage();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1)
		errx(2, "bad IPv4 address '%s'", argv[2]);
	sin.sin_port = htons((uint16_t)parse_num("port", argv[3], 65535));
	count = parse_num("count", argv[4], 10000000);
	ival = parse_num("interval", argv[5], 10000000) * 1000;
	size = parse_num("size", argv[6], 65000);
	if (size < 16 || count == 0)
		errx(2, "want a size of at least 16 and a count");
	if ((rtt = calloc(count, sizeof(*rtt))) == NULL ||
	    (seen = calloc(count, 1)) == NULL)
		err(1, "calloc");
	if ((pfd.fd = udp_bound(NULL, 0)) == -1 ||
	    connect(pfd.fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err(1, "udp socket to %s", argv[2]);
	pfd.events = POLLIN;
	memset(buf, 'p', size);
	prctl(PR_SET_TIMERSLACK, 1UL);
	start = now_ns();
	for (;;) {
		now = now_ns();
		for (; i < count && (due = start + i * ival) <= now; i++) {
			memcpy(buf, &i, 8);
			memcpy(buf + 8, &now, 8);
			send(pfd.fd, buf, size, 0);	/* a drop is a loss */
		}
		if (i == count && end == 0)
			end = now + 3 * NS;
		got += probe_collect(pfd.fd, rtt + got, seen, count);
		if (got == count || (end != 0 && now >= end))
			break;
		due = i < count ? start + i * ival : end;
		ppoll(&pfd, 1, &(struct timespec){ (time_t)((due - now) / NS),
		    (long)((due - now) % NS) }, NULL);
	}
	qsort(rtt, got, sizeof(*rtt), cmp_u64);
	printf("sent %llu recv %zu rtt_min %.3f rtt_med %.3f rtt_p99 %.3f "
	    "rtt_max %.3f\n", (unsigned long long)count, got,
	    got ? rtt[0] / 1e6 : 0.0, got ? rtt[got / 2] / 1e6 : 0.0,
	    got ? rtt[got * 99 / 100] / 1e6 : 0.0,
	    got ? rtt[got - 1] / 1e6 : 0.0);
	return 0;
}

/* Copies stdin to file; prints the bytes and the time from the first
 * byte to the last (until EOF, or a read error). */
static int
stamp_main(int argc, char **argv)
{
	static unsigned char buf[1 << 20];
	uint64_t first = 0, last = 0, bytes = 0;
	ssize_t n, w, off;
	int fd;

	if (argc != 3)
		usage();
	if ((fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		err(1, "%s", argv[2]);
	while ((n = read(0, buf, sizeof(buf))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		last = now_ns();
		if (bytes == 0)
			first = last;
		bytes += (uint64_t)n;
		for (off = 0; off < n; off += w)
			if ((w = write(fd, buf + off, (size_t)(n - off))) == -1)
				err(1, "%s", argv[2]);
	}
	printf("bytes %llu secs %.3f\n", (unsigned long long)bytes,
	    bytes ? (double)(last - first) / 1e9 : 0.0);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "stamp") == 0)
		return stamp_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "echo") == 0)
		return echo_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "sink") == 0)
		return sink_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "probe") == 0)
		return probe_main(argc, argv);
	return link_main(argc, argv);
}
