/*
 * pnc.c - the front end: the subcommand table, options into a session's
 * config, the key file, what is printed, TCP first and the fall back to
 * UDP (-t, -a), and listen -k's one session after another. The sessions
 * themselves run in session.c's one loop.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <err.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pnc.h"

#define DEFAULT_WAIT	30000	/* ms: punch and connect give up after */
#define STUN_PORT	"3478"

struct cmd {
	const char	*name;
	int		(*main)(int, char **);
	const char	*usage;
};

static const struct cmd cmds[] = {
	{ "mediate", mediate_main, "[-46rv] [-b bytes/s] [-c bytes] [-l rate] "
	    "[-n max] [-p port] [-s addr] [-x sessions]" },
	{ "punch", punch_main, "[-46atv] [-K keyfile] [-m host[:port]] [-p lport] "
	    "[-S host[:port]] [-w secs] [name]" },
	{ "listen", listen_main, "[-46adkNRtv] [-B MB] [-K keyfile] "
	    "[-m host[:port]] [-p lport] [-q secs] [-w secs] [name]" },
	{ "connect", connect_main, "[-46adNRtv] [-B MB] [-K keyfile] "
	    "[-m host[:port]] [-p lport] [-q secs] [-w secs] name | code" },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static void
usage_all(FILE *f)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		fprintf(f, "%s pnc %-7s %s\n", i ? "      " : "usage:",
		    cmds[i].name, cmds[i].usage);
	fprintf(f, "       pnc -h | pnc help | pnc -V\n");
}

/* Usage of one subcommand: stdout and 0 when asked, stderr otherwise. */
void
usage_cmd(const char *name, int status)
{
	FILE *f = status == 0 ? stdout : stderr;
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			fprintf(f, "usage: pnc %s %s\n", name, cmds[i].usage);
	exit(status);
}

/* ---- subcommands ---- */

static int
valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > NAME_MAX_LEN)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

#define TR_UDP	0
#define TR_TCP	1	/* -t */
#define TR_AUTO	2	/* -a: TCP first, then UDP */
#define TCP_SHARE 3000	/* ms of the -w budget -a gives TCP at most */

struct copts {
	int	nostdin;	/* -d */
	int	transport;
	int	reliable;	/* -R */
	size_t	budget;		/* -B: -R's memory, bytes; 0 default */
	int	keep;		/* listen -k */
	int64_t	quit;		/* -q, ms; -1: not given */
	int64_t	wait;		/* -w, ms; 0: none */
	int	wait_given;	/* ... then also the session's idle timeout */
	char	menv[512];	/* PNC_MEDIATOR, split */
	char	stun[MAX_MEDS][280];	/* -S host:port, port filled in */
	int	nstun;
	const char *keyfile;	/* -K */
	unsigned char key[KEY_MAX + 1];	/* ... its bytes */
	int	draw;		/* listen without a name: a code a session */
	char	code[CODE_MAX];	/* the code, NAMEPLATE-word-word-word */
	char	secret[CODE_MAX];	/* ... its words: never sent */
	char	pubname[32];	/* ... its nameplate, as the mediator sees */
};

/*
 * The key of -K (a file) or PNC_KEY, less one trailing newline, so that
 * `echo secret >file` and PNC_KEY=secret agree. Exits 1 if unreadable.
 */
static size_t
load_key(const char *file, unsigned char *buf, size_t cap)
{
	const char *env = getenv("PNC_KEY");
	size_t len = 0;
	ssize_t n;
	int fd;

	if (file == NULL) {
		if ((len = strlen(env)) > cap)
			errx(EX_FAIL, "PNC_KEY is longer than %zu bytes", cap);
		memcpy(buf, env, len);
	} else {
		if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1)
			err(EX_FAIL, "key file %s", file);
		while (len < cap && (n = read(fd, buf + len, cap - len)) != 0) {
			if (n == -1 && errno != EINTR)
				err(EX_FAIL, "key file %s", file);
			if (n > 0)
				len += (size_t)n;
		}
		close(fd);
		if (len == cap)
			errx(EX_FAIL, "key file %s: longer than %zu bytes",
			    file, cap - 1);
	}
	if (len > 0 && buf[len - 1] == '\n') {
		len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
	}
	if (len == 0)
		errx(EX_FAIL, "%s%s is empty", file ? "key file " : "PNC_KEY",
		    file ? file : "");
	return len;
}

static void	opt_value(const char *, int, struct copts *);

/* -B MB: -R's memory per session, 4 to 4096 MB. Exits 2 on misuse. */
static void
opt_budget(const char *cmd, struct copts *o)
{
	char *end;
	long mb;

	errno = 0;
	mb = strtol(optarg, &end, 10);
	if (errno != 0 || end == optarg || *end != '\0' || mb < 4 ||
	    mb > 4096) {
		warnx("bad -B: %s (megabytes, 4 to 4096)", optarg);
		usage_cmd(cmd, EX_USAGE);
	}
	o->budget = (size_t)mb << 20;
}

/* One flag of punch, listen or connect; exits 2 on misuse. */
static void
opt_flag(const char *cmd, int ch, struct sess_cfg *c, struct copts *o)
{
	struct punch_cfg *pc = &c->punch;

	switch (ch) {
	case '4':
	case '6':
		pc->family = ch == '4' ? AF_INET : AF_INET6;
		break;
	case 'a':
	case 't':
		o->transport = ch == 'a' ? TR_AUTO : TR_TCP;
		break;
	case 'd':
		o->nostdin = 1;
		break;
	case 'h':
		usage_cmd(cmd, 0);
		break;
	case 'k':
		o->keep = 1;
		break;
	case 'K':
		o->keyfile = optarg;
		break;
	case 'm':
		if (pc->nmeds == MAX_MEDS) {
			warnx("-m at most %d times", MAX_MEDS);
			usage_cmd(cmd, EX_USAGE);
		}
		pc->medspecs[pc->nmeds++] = optarg;
		break;
	case 'N':
		break;	/* nc's -N: what pnc always does at EOF */
	case 'p':
		if (parse_port(optarg, &pc->lport) == -1) {
			warnx("bad port: %s", optarg);
			usage_cmd(cmd, EX_USAGE);
		}
		break;
	case 'R':
		o->reliable = 1;
		break;
	case 'v':
		verbose = 1;
		break;
	default:
		opt_value(cmd, ch, o);
	}
}

/* A flag with a value to check: -q, -S, -w. Exits 2 on misuse. */
static void
opt_value(const char *cmd, int ch, struct copts *o)
{
	char host[256];
	const char *port;

	if (ch == 'q' && optarg[0] == '-')
		o->quit = -1;	/* as nc: wait for ever */
	else if (ch == 'q' && strcmp(optarg, "0") == 0)
		o->quit = 0;
	else if (ch == 'q' && parse_secs(optarg, &o->quit) == -1) {
		warnx("bad -q: %s", optarg);
		usage_cmd(cmd, EX_USAGE);
	} else if (ch == 'S') {
		if (o->nstun == MAX_MEDS || split_hostport(optarg, STUN_PORT,
		    host, sizeof(host), &port) == -1) {
			warnx("bad or too many -S: %s", optarg);
			usage_cmd(cmd, EX_USAGE);
		}
		snprintf(o->stun[o->nstun++], sizeof(o->stun[0]),
		    strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
	} else if (ch == 'w') {
		if (parse_secs(optarg, &o->wait) == -1) {
			warnx("bad timeout: %s", optarg);
			usage_cmd(cmd, EX_USAGE);
		}
		o->wait_given = 1;
	} else if (ch == 'B')
		opt_budget(cmd, o);
	else if (ch != 'q')
		usage_cmd(cmd, EX_USAGE);
}

/*
 * The mediators: -m, or -S for the NAT check, or PNC_MEDIATOR (several,
 * split by commas or spaces). Exits 2 on misuse.
 */
static void
opt_mediators(const char *cmd, int argc, struct punch_cfg *pc,
    struct copts *o)
{
	const char *env = getenv("PNC_MEDIATOR"), *port;
	char host[256], *s, *save = NULL;
	int k;

	if (o->nstun > 0) {
		/* -S: the NAT check asks these instead of a mediator. */
		if (argc != 0 || o->transport != TR_UDP) {
			warnx("-S is for the NAT check: no name, no -t");
			usage_cmd(cmd, EX_USAGE);
		}
		for (pc->nmeds = 0; pc->nmeds < o->nstun; pc->nmeds++)
			pc->medspecs[pc->nmeds] = o->stun[pc->nmeds];
		pc->natstun = 1;
	}
	if (pc->nmeds == 0 && env != NULL && strlen(env) < sizeof(o->menv)) {
		strcpy(o->menv, env);
		for (s = strtok_r(o->menv, ", \t", &save); s != NULL;
		    s = strtok_r(NULL, ", \t", &save)) {
			if (pc->nmeds == MAX_MEDS) {
				warnx("PNC_MEDIATOR: at most %d", MAX_MEDS);
				usage_cmd(cmd, EX_USAGE);
			}
			pc->medspecs[pc->nmeds++] = s;
		}
	}
	if (pc->nmeds == 0) {
		warnx("no mediator: give -m host[:port] or set PNC_MEDIATOR");
		usage_cmd(cmd, EX_USAGE);
	}
	for (k = 0; k < pc->nmeds; k++)
		if (split_hostport(pc->medspecs[k], PNC_PORT, host,
		    sizeof(host), &port) == -1) {
			warnx("bad mediator: %s (host[:port])",
			    pc->medspecs[k]);
			usage_cmd(cmd, EX_USAGE);
		}
}

/*
 * -K or PNC_KEY: the key, which enters only the handshake's password;
 * the name the mediator sees stays the name. Exits on misuse.
 */
static void
opt_key(const char *cmd, struct sess_cfg *c, struct copts *o)
{
	const char *env = getenv("PNC_KEY");

	if (o->keyfile == NULL && (env == NULL || *env == '\0'))
		return;
	if (c->what == SESS_NATCHECK) {
		warnx("-K needs a name");
		usage_cmd(cmd, EX_USAGE);
	}
	c->keylen = load_key(o->keyfile, o->key, sizeof(o->key));
	c->key = o->key;
}

/*
 * A code's public and secret parts into c: the mediator sees "code-"
 * and the nameplate; the words are the handshake's password only.
 */
static void
code_use(struct sess_cfg *c, struct copts *o, unsigned nameplate)
{
	snprintf(o->pubname, sizeof(o->pubname), "code-%u", nameplate);
	c->punch.name = o->pubname;
	c->punch.label = o->code;
	c->secret = o->secret;
	c->code = 1;
}

/* listen without a name: a fresh code, printed. Exits 1 if it cannot. */
static void
code_draw(struct sess_cfg *c, struct copts *o, unsigned span)
{
	unsigned np = 1 + (unsigned)(random64() % span);

	if (code_new(o->code, sizeof(o->code), np) == -1 ||
	    code_parse(o->code, &np, o->secret, sizeof(o->secret)) == -1)
		errx(EX_FAIL, "cannot draw a code");
	code_use(c, o, np);
	warnx("code %s", o->code);
}

/* Flags shared by punch, listen and connect; exits 2 on misuse. */
static void
client_opts(const char *cmd, int role, int argc, char **argv,
    struct sess_cfg *c, struct copts *o)
{
	struct punch_cfg *pc = &c->punch;
	const char *ka = getenv("PNC_KEEPALIVE"), *gso = getenv("PNC_GSO");
	unsigned np;
	int ch;

	memset(c, 0, sizeof(*c));
	memset(o, 0, sizeof(*o));
	pc->role = role;
	o->quit = -1;
	o->wait = role == ROLE_LISTEN ? 0 : DEFAULT_WAIT;
	while ((ch = getopt(argc, argv, role == ROLE_PUNCH ? "46ahK:m:p:S:tvw:" :
	    role == ROLE_LISTEN ? "46aB:dhkK:m:Np:q:Rtvw:" :
	    "46aB:dhK:m:Np:q:Rtvw:")) != -1)
		opt_flag(cmd, ch, c, o);
	argc -= optind;
	argv += optind;
	if (o->reliable && o->transport == TR_TCP) {
		warnx("-R and -t: TCP is reliable already");
		usage_cmd(cmd, EX_USAGE);
	}
	if (o->budget && !o->reliable) {
		warnx("-B without -R: only -R keeps data in memory");
		usage_cmd(cmd, EX_USAGE);
	}
	if (argc == 0 && role == ROLE_PUNCH && o->transport == TR_UDP)
		pc->name = NULL;	/* the NAT check */
	else if (argc == 0 && role == ROLE_LISTEN)
		o->draw = 1;		/* a code, drawn for each session */
	else if (argc != 1) {
		warnx(argc ? "one name, please" : "missing name");
		usage_cmd(cmd, EX_USAGE);
	} else if (!valid_name(argv[0])) {
		warnx("bad name: 1 to %d printable characters, no spaces",
		    NAME_MAX_LEN);
		usage_cmd(cmd, EX_USAGE);
	}
	opt_mediators(cmd, argc, pc, o);
	pc->name = pc->label = c->secret = argc == 1 ? argv[0] : NULL;
	pc->reliable = o->reliable;
	c->what = role == ROLE_PUNCH ? (pc->name ? SESS_PUNCH :
	    SESS_NATCHECK) : SESS_DATA;
	opt_key(cmd, c, o);
	if (argc == 1 && role != ROLE_PUNCH && code_parse(argv[0], &np,
	    o->secret, sizeof(o->secret)) == 0) {
		snprintf(o->code, sizeof(o->code), "%s", argv[0]);
		code_use(c, o, np);
	}
	c->nostdin = o->nostdin;
	c->keep = o->keep;
	c->quit = o->quit;
	c->rel_budget = o->budget;
	c->idle = o->wait_given ? o->wait : 0;
	c->keepalive = KEEPALIVE_MS;
	c->no_gso = gso != NULL && strcmp(gso, "0") == 0;
	if (role != ROLE_PUNCH && ka != NULL &&
	    parse_secs(ka, &c->keepalive) == -1)
		errx(EX_USAGE, "bad PNC_KEEPALIVE: %s", ka);
}

static void
print_result(const struct path *path)
{
	char a[64];

	printf("%d %s %d\n", path->lport, ep_addr(&path->peer, a, sizeof(a)),
	    ep_port(&path->peer));
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EX_FAIL, "stdout");
}

static const char *
yesno(int v)
{
	return v ? "yes" : "no";
}

/*
 * The NAT check's report: one "key value" line per fact, stable for
 * scripts; -v adds how each was found.
 */
static void
natcheck_print(const struct natcheck *chk)
{
	const struct ep *m = chk->mapped;
	char a[80];
	int eim, filt_any, filt_port;

	printf("nat %s\n", yesno(chk->natted));
	printf("public-address %s\n", ep_addr(&m[0], a, sizeof(a)));
	printf("public-port %d\n", ep_port(&m[0]));
	printf("port-preserved %s\n", yesno(ep_port(&m[0]) == chk->lport));
	vlog("mapping toward the mediator's port P: %s",
	    ep_str(&m[0], a, sizeof(a)));
	if (chk->answered[1])
		vlog("mapping toward its port P+1: %s",
		    ep_str(&m[1], a, sizeof(a)));
	if (chk->answered[2])
		vlog("mapping toward its other address: %s",
		    ep_str(&m[2], a, sizeof(a)));
	if (!chk->answered[1] && !chk->answered[2])
		printf("mapping unknown\n");
	else {
		/* -S with a plain STUN server and a second one: [2] only. */
		eim = (!chk->answered[1] || ep_equal(&m[0], &m[1])) &&
		    (!chk->answered[2] || ep_equal(&m[0], &m[2]));
		if (eim)
			printf("mapping endpoint-independent\n");
		else if (!chk->answered[1])
			printf("mapping endpoint-dependent\n");
		else if (ep_equal(&m[0], &m[1]))
			printf("mapping endpoint-dependent address-dependent\n");
		else
			printf("mapping endpoint-dependent "
			    "address-and-port-dependent\n");
	}
	/* An answer counts only if the mediator could send it from afar. */
	filt_any = chk->answered[3] && chk->got[3] == 3;
	filt_port = chk->answered[4] && chk->got[4] == 1;
	vlog("answer from the other address and port: %s; from the other "
	    "port: %s", chk->answered[3] ? (chk->got[3] == 3 ? "came" :
	    "mediator cannot") : "dropped by the NAT", chk->answered[4] ?
	    (chk->got[4] == 1 ? "came" : "mediator cannot") :
	    "dropped by the NAT");
	if (filt_any)
		printf("filtering endpoint-independent\n");
	else if (filt_port && chk->have_other)
		printf("filtering address-dependent\n");
	else if (filt_port)
		printf("filtering address-dependent-or-less\n");
	else if (chk->answered[4] && chk->got[4] == 0)
		printf("filtering unknown\n");
	else
		printf("filtering address-and-port-dependent\n");
	printf("hairpin %s\n", yesno(chk->answered[5]));
	printf("port-mapping %s\n", chk->pmap == PMAP_PCP ? "pcp" :
	    chk->pmap == PMAP_NATPMP ? "nat-pmp" : "none");
	vlog("checked in %lld ms", (long long)chk->ms);
	fflush(stdout);
}

/* A session as c asks; exits 1 when it cannot be set up. */
static struct session *
session_or_die(const struct sess_cfg *c)
{
	struct session *s;

	if ((s = session_new(c)) == NULL)
		errx(EX_FAIL, "out of memory");
	if (session_open(s) == -1)
		errx(EX_FAIL, "%s", session_why(s));
	return s;
}

/*
 * -t and -a: punch over TCP. With -a, TCP gets part of the budget and a
 * failure falls back to UDP. Returns 1 with *sp a session whose TCP
 * punch got through, 0 when the caller should go on over UDP (with -t,
 * c now asks for -R: a stream was asked for).
 */
static int
try_tcp(struct sess_cfg *c, const struct copts *o, struct session **sp)
{
	struct sess_cfg tc = *c;
	int64_t now = now_ms(), share, dl = c->punch.deadline;
	struct session *s;
	char why[256];

	if (o->transport == TR_UDP)
		return 0;
	tc.punch.tcp = 1;
	if (o->transport == TR_AUTO) {
		share = dl ? (dl - now) / 2 : TCP_SHARE;
		tc.punch.deadline = now + (share < TCP_SHARE ? share :
		    TCP_SHARE);
	} else if (c->punch.role != ROLE_PUNCH && dl)
		tc.punch.deadline = now + (dl - now) / 2;
	s = session_or_die(&tc);
	if (session_run(s) == SR_PUNCHED) {
		vlog("using TCP");
		*sp = s;
		return 1;
	}
	snprintf(why, sizeof(why), "%s", session_why(s));
	if (session_authfailed(s))	/* not the path's fault: no fall back */
		errx(EX_FAIL, "%s", why);
	session_free(s, 0);
	if (o->transport == TR_TCP && c->punch.role == ROLE_PUNCH)
		errx(EX_FAIL, "%s", why);	/* nc wants a TCP hole */
	if (o->transport == TR_TCP) {
		/*
		 * A stream was asked for: UDP with -R is one too, and goes
		 * through the mediator's relay when nothing else does. The
		 * peer, also -t, comes to the same.
		 */
		warnx("%s; falling back to UDP with -R (relayed if the "
		    "mediator relays)", why);
		c->punch.reliable = 1;
		return 0;
	}
	if (verbose)
		warnx("%s; falling back to UDP", why);
	return 0;
}

/* pnc punch NAME: the path, printed; without a name, the NAT check. */
int
punch_main(int argc, char **argv)
{
	struct session *s;
	struct sess_cfg c;
	struct copts o;
	int rc;

	client_opts("punch", ROLE_PUNCH, argc, argv, &c, &o);
	if (o.wait)
		c.punch.deadline = now_ms() + o.wait;
	if (try_tcp(&c, &o, &s)) {
		print_result(session_path(s));
		rc = session_run(s);	/* the responder lingers */
		session_report(s);
		session_free(s, 1);	/* RST: nc may reuse the ports */
		return EX_OK;
	}
	s = session_or_die(&c);
	if ((rc = session_run(s)) == SR_PUNCHED) {
		print_result(session_path(s));
		rc = session_run(s);	/* the responder lingers */
	}
	session_report(s);
	if (rc == SR_FAILED)
		errx(EX_FAIL, "%s", session_why(s));
	if (c.what == SESS_NATCHECK)
		natcheck_print(session_natcheck(s));
	else if (o.transport == TR_AUTO)
		vlog("using UDP");
	session_free(s, 0);
	return EX_OK;
}

/* How a session of listen or connect ended, besides why. */
struct outcome {
	int	punched;	/* the punch got through */
	int	authfailed;	/* the handshake failed: a code is spent */
	int	busy;		/* the mediator: the name is in use */
};

/*
 * One session of listen or connect: punch, handshake, then the
 * transport. Returns 0, or -1 with the reason in why and how in *oc.
 */
static int
one_session(struct sess_cfg *c, const struct copts *o, char *why,
    size_t whylen, struct outcome *oc)
{
	struct session *s;
	int tcp, rc;

	if ((tcp = try_tcp(c, o, &s)))
		rc = SR_PUNCHED;
	else
		rc = session_run(s = session_or_die(c));
	if (rc == SR_PUNCHED)
		rc = session_run(s);
	if (rc == SR_FAILED)
		snprintf(why, whylen, "%s", session_why(s));
	else if (!tcp && !c->punch.reliable && o->transport == TR_AUTO)
		vlog("using UDP");
	oc->punched = session_punched(s);
	oc->authfailed = session_authfailed(s);
	oc->busy = session_path(s)->busy;
	session_report(s);
	session_free(s, 0);
	return rc == SR_FAILED ? -1 : 0;
}

/* listen and connect: sessions, one after another with listen -k. */
static int
session_main(const char *cmd, int role, int argc, char **argv)
{
	static struct copts o;	/* the key: not on the stack */
	struct sess_cfg c0, c;
	struct outcome oc;
	char why[256];
	unsigned span = 999;	/* nameplates: short, longer if in use */

	client_opts(cmd, role, argc, argv, &c0, &o);
	for (;;) {
		c = c0;		/* -k: every session its own ids and nonce */
		if (o.draw)
			code_draw(&c, &o, span);	/* and its own code */
		if (o.wait)
			c.punch.deadline = now_ms() + o.wait;
		memset(&oc, 0, sizeof(oc));
		if (one_session(&c, &o, why, sizeof(why), &oc) == 0) {
			if (!o.keep)
				return EX_OK;
		} else if (o.draw && oc.busy && span < CODE_NAMEPLATE_MAX) {
			span = CODE_NAMEPLATE_MAX;	/* draw again */
			continue;
		} else if (!o.keep || !oc.punched || (oc.authfailed && c.code))
			errx(EX_FAIL, "%s", why);	/* a code: spent */
		else
			warnx("%s", why);	/* -k: not a peer's fault */
		vlog("-k: registering again for the next peer");
	}
}

int
listen_main(int argc, char **argv)
{
	return session_main("listen", ROLE_LISTEN, argc, argv);
}

int
connect_main(int argc, char **argv)
{
	return session_main("connect", ROLE_CONNECT, argc, argv);
}

int
main(int argc, char **argv)
{
	size_t i;

	/* A vanished stdout reader is an EPIPE to handle, not a death. */
	signal(SIGPIPE, SIG_IGN);
	/* A closed 0, 1 or 2 must not become our socket. */
	for (i = 0; i < 3; i++)
		if (fcntl((int)i, F_GETFD) == -1 &&
		    open("/dev/null", O_RDWR) != (int)i)
			return EX_FAIL;
	if (argc < 2) {
		usage_all(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		usage_all(stdout);
		return EX_OK;
	}
	if (strcmp(argv[1], "-V") == 0) {
		printf("pnc %s (protocol %d)\n", PNC_VERSION, PROTO_VERSION);
		return EX_OK;
	}
	for (i = 0; i < NCMDS; i++)
		if (strcmp(argv[1], cmds[i].name) == 0) {
			optind = 1;
			return cmds[i].main(argc - 1, argv + 1);
		}
	warnx("unknown subcommand: %s", argv[1]);
	usage_all(stderr);
	return EX_USAGE;
}
