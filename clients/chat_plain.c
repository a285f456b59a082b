/* chat_plain.c: the plain line front end of chat; see chat_plain.h.
 *
 * The main thread waits in poll() on stdin, a signalfd (SIGINT, SIGTERM)
 * and a wake pipe. Events come from the MQTT library's threads too: each
 * is printed as one line under p->lock, and those the main thread waits
 * for (connected, fatal error, publish done, closed) also write a byte to
 * the wake pipe. */
#include "chat_plain.h"
#include "chat_signals.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "chat_cmd.h"
#include "clock.h"

#define DRAIN_MS 10000          /* wait for acknowledgements at the end */
#define DISCONNECT_MS 1000      /* in-flight grace given to the DISCONNECT */
#define CLOSE_MS 3000           /* wait for the disconnect to complete */

enum { WAKE_PIPE = 1, SIGNALLED = 2, INPUT = 4 };

struct plain {
	pthread_mutex_t lock;   /* stdout, stderr and the flags below */
	int wake[2];
	int ready;              /* the first connect attempt has an outcome */
	int fatal;              /* exit status asked for by a fatal error, or 0 */
	int closed;             /* the disconnect asked for is complete */
	int out_failed;         /* stdout is gone */
};

struct line_reader {
	char buf[CHAT_LINE_MAX + 2]; /* a longest line with its "\r\n" */
	size_t len;
	int skipping;                /* inside a line that was too long */
};

static void wake(struct plain *p)
{
	char c = 1;
	ssize_t r = write(p->wake[1], &c, 1); /* full pipe: a wake-up is pending anyway */

	(void)r;
}

static int get_flag(struct plain *p, const int *flag)
{
	int v;

	pthread_mutex_lock(&p->lock);
	v = *flag;
	pthread_mutex_unlock(&p->lock);
	return v;
}

static void set_flag(struct plain *p, int *flag, int v)
{
	pthread_mutex_lock(&p->lock);
	*flag = v;
	pthread_mutex_unlock(&p->lock);
	wake(p);
}

/* Writes s with backslash, newline and carriage return escaped. */
static void put_escaped(FILE *fp, const char *s)
{
	for(; *s; s++){
		switch(*s){
		case '\\': fputs("\\\\", fp); break;
		case '\n': fputs("\\n", fp); break;
		case '\r': fputs("\\r", fp); break;
		default: putc(*s, fp); break;
		}
	}
}

/* Writes one line to fp: the printf-formatted fields (names and tokens,
 * never free text), then, when text is not NULL, a space and text escaped. */
static void out(struct plain *p, FILE *fp, const char *text, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void out(struct plain *p, FILE *fp, const char *text, const char *fmt, ...)
{
	va_list ap;
	int broken = 0;

	pthread_mutex_lock(&p->lock);
	va_start(ap, fmt);
	vfprintf(fp, fmt, ap);
	va_end(ap);
	if(text){
		putc(' ', fp);
		put_escaped(fp, text);
	}
	putc('\n', fp);
	if((fflush(fp) || ferror(fp)) && fp == stdout && !p->out_failed){
		p->out_failed = 1;
		broken = 1;
	}
	pthread_mutex_unlock(&p->lock);
	if(broken) wake(p);
}

static void on_event(void *ctx, const struct chat_event *ev)
{
	struct plain *p = ctx;
	char diag[512];

	switch(ev->kind){
	case CHAT_EV_CONNECTED:
		out(p, stdout, NULL, "status connected");
		set_flag(p, &p->ready, 1);
		break;
	case CHAT_EV_DISCONNECTED:
		out(p, stdout, ev->text && *ev->text ? ev->text : "unknown", "status disconnected");
		set_flag(p, &p->ready, 1);
		break;
	case CHAT_EV_RECONNECTING:
		out(p, stdout, NULL, "status reconnecting %ld %ld", ev->count, ev->seq);
		break;
	case CHAT_EV_MSG:
		out(p, stdout, ev->body, "msg %s %s", ev->room, ev->user);
		break;
	case CHAT_EV_RECEIPT:
		out(p, stdout, NULL, "receipt %s %ld %s", ev->room, ev->seq, ev->id);
		break;
	case CHAT_EV_HISTORY:
		out(p, stdout, ev->body, "history %s %ld %s %s", ev->room, ev->seq, ev->ts, ev->user);
		break;
	case CHAT_EV_HISTORY_END:
		out(p, stdout, NULL, "history-end %s %ld", ev->room, ev->count);
		break;
	case CHAT_EV_ROOM:
		out(p, stdout, NULL, "room %s %ld", ev->room, ev->seq);
		break;
	case CHAT_EV_ROOMS_END:
		out(p, stdout, NULL, "rooms-end %ld", ev->count);
		break;
	case CHAT_EV_PRESENCE:
		out(p, stdout, ev->text, "presence %s %s", ev->user, ev->state);
		break;
	case CHAT_EV_REPLY:
		if(ev->op && !strcmp(ev->op, "status")){
			out(p, stdout, ev->text, "ok status %s", ev->state ? ev->state : "-");
		}else if(ev->op && !strcmp(ev->op, "read")){
			out(p, stdout, NULL, "ok read %s %ld", ev->room ? ev->room : "-", ev->seq);
		}else{
			out(p, stdout, NULL, "ok %s%s%s%s%s", ev->op ? ev->op : "-", ev->room ? " " : "", ev->room ? ev->room : "",
					ev->user ? " " : "", ev->user ? ev->user : "");
		}
		break;
	case CHAT_EV_PUBLIC_ROOM:
		out(p, stdout, NULL, "public-room %s %ld %ld", ev->room, ev->count, ev->seq);
		break;
	case CHAT_EV_PUBLIC_ROOMS_END:
		out(p, stdout, NULL, "public-rooms-end %ld", ev->count);
		break;
	case CHAT_EV_MEMBER:
		out(p, stdout, ev->text, "member %s %s %s", ev->room, ev->user, ev->state);
		break;
	case CHAT_EV_MEMBERS_END:
		out(p, stdout, NULL, "members-end %s %ld", ev->room, ev->count);
		break;
	case CHAT_EV_TYPING:
		out(p, stdout, NULL, "typing %s %s %s", ev->room, ev->user, ev->state);
		break;
	case CHAT_EV_ERROR:
		out(p, stdout, ev->text && *ev->text ? ev->text : "(no details)", "error %s", ev->code);
		if(ev->fatal) set_flag(p, &p->fatal, ev->fatal);
		break;
	case CHAT_EV_BAD_PAYLOAD:
		snprintf(diag, sizeof(diag), "on %s: %s", ev->topic ? ev->topic : "?", ev->text ? ev->text : "");
		out(p, stderr, diag, "error bad_payload");
		break;
	case CHAT_EV_NOTE:
		out(p, stderr, ev->text ? ev->text : "", "chat:");
		break;
	case CHAT_EV_HELP:
		out(p, stdout, ev->text ? ev->text : "", "help");
		break;
	case CHAT_EV_SENT:
		wake(p);
		break;
	case CHAT_EV_CLOSED:
		set_flag(p, &p->closed, 1);
		break;
	}
}

/* Waits up to timeout_ms (-1: no limit) for the wake pipe, a signal or,
 * when infd >= 0, input. Returns a mask of WAKE_PIPE, SIGNALLED, INPUT
 * (0 on timeout). */
static int wait_for(struct plain *p, int sfd, int infd, int timeout_ms)
{
	struct pollfd fds[3];
	nfds_t n = 2;
	int got = 0;

	fds[0].fd = p->wake[0];
	fds[0].events = POLLIN;
	fds[1].fd = sfd;
	fds[1].events = POLLIN;
	if(infd >= 0){
		fds[2].fd = infd;
		fds[2].events = POLLIN;
		n = 3;
	}
	if(poll(fds, n, timeout_ms) <= 0) return 0;
	if(fds[0].revents){
		char buf[64];

		while(read(p->wake[0], buf, sizeof(buf)) > 0){
		}
		got |= WAKE_PIPE;
	}
	if(fds[1].revents){
		struct signalfd_siginfo si;

		while(read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) got |= SIGNALLED;
	}
	if(n == 3 && fds[2].revents) got |= INPUT;
	return got;
}

/* One complete input line (without its '\n'). */
static enum chat_cmd_result input_line(struct chat_net *net, char *line, size_t len)
{
	if(len > 0 && line[len - 1] == '\r') len--;
	return chat_cmd_line(net, line, len);
}

/* Acts on the complete lines in lr. Returns CHAT_CMD_QUIT after /quit. */
static enum chat_cmd_result input_lines(struct chat_net *net, struct line_reader *lr)
{
	enum chat_cmd_result res = CHAT_CMD_OK;
	size_t start = 0;
	char *nl = NULL;

	while(res == CHAT_CMD_OK && (nl = memchr(lr->buf + start, '\n', lr->len - start)) != NULL){
		size_t end = (size_t)(nl - lr->buf);

		if(lr->skipping) lr->skipping = 0;
		else res = input_line(net, lr->buf + start, end - start);
		start = end + 1;
	}
	memmove(lr->buf, lr->buf + start, lr->len - start);
	lr->len -= start;
	if(res == CHAT_CMD_OK && lr->len == sizeof(lr->buf)){
		/* No line end in a full buffer: the line is too long. */
		if(!lr->skipping) chat_net_error(net, "too_long", "an input line is longer than %d bytes: ignored", CHAT_LINE_MAX);
		lr->skipping = 1;
		lr->len = 0;
	}
	return res;
}

/* Reads and acts on stdin until /quit, end of input, a signal, a fatal
 * error or a broken stdout. Returns 1 when signalled, else 0, with *reason
 * saying why it ended. */
static int run_input(struct plain *p, struct chat_net *net, int sfd, const char **reason)
{
	static struct line_reader lr;
	ssize_t n;

	memset(&lr, 0, sizeof(lr));
	for(;;){
		int got;

		if(get_flag(p, &p->fatal)) return 0;
		if(get_flag(p, &p->out_failed)){
			*reason = "output closed";
			return 0;
		}
		got = wait_for(p, sfd, STDIN_FILENO, -1);
		if(got & SIGNALLED){
			*reason = "signal";
			return 1;
		}
		if(!(got & INPUT)) continue;
		n = read(STDIN_FILENO, lr.buf + lr.len, sizeof(lr.buf) - lr.len);
		if(n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
		if(n <= 0){
			/* A last line without '\n' still counts. */
			if(n == 0 && lr.len > 0 && !lr.skipping) input_line(net, lr.buf, lr.len);
			*reason = n == 0 ? "end of input" : "input error";
			return 0;
		}
		lr.len += (size_t)n;
		if(input_lines(net, &lr) == CHAT_CMD_QUIT){
			*reason = "quit";
			return 0;
		}
	}
}

/* Waits until every message sent has its receipt (or error) and the
 * broker has acknowledged every request, for at most DRAIN_MS. Returns 1
 * when signalled, else 0. */
static int drain(struct plain *p, struct chat_net *net, int sfd)
{
	long long deadline = clock_mono_ms() + DRAIN_MS;

	for(;;){
		size_t pending = chat_net_pending(net);
		long long left = deadline - clock_mono_ms();

		if(pending == 0 || get_flag(p, &p->fatal)) return 0;
		if(left <= 0){
			chat_net_error(net, "not_sent", "%zu message(s) without a receipt or request(s) not acknowledged "
					"after %d s", pending, DRAIN_MS / 1000);
			return 0;
		}
		if(wait_for(p, sfd, -1, (int)left) & SIGNALLED) return 1;
	}
}

/* Runs one plain-mode session with opts; returns the exit status (0 done,
 * 1 failure, 2 login refused). Everything it creates is freed here. */
int chat_plain_run(const struct chat_net_opts *opts)
{
	struct plain p;
	struct chat_net *net = NULL;
	const char *reason = "end of input";
	long long deadline;
	int have_lock = 0;
	int signalled = 0;
	int sfd = -1;
	int fatal;
	int rc = 1;

	memset(&p, 0, sizeof(p));
	p.wake[0] = p.wake[1] = -1;
	if(pthread_mutex_init(&p.lock, NULL)){
		fprintf(stderr, "chat: cannot create a mutex\n");
		goto out;
	}
	have_lock = 1;
	if(pipe2(p.wake, O_CLOEXEC | O_NONBLOCK)){
		fprintf(stderr, "chat: pipe: %s\n", strerror(errno));
		goto out;
	}
	sfd = chat_signalfd_open(0);
	if(sfd < 0) goto out;

	net = chat_net_new(opts, on_event, &p);
	if(!net) goto out;
	if(chat_net_start(net)) goto out;

	/* Read no input before the first connect attempt has an outcome, so
	 * that the first lines find the rooms and the inbox subscribed. */
	while(!get_flag(&p, &p.ready) && !get_flag(&p, &p.fatal)){
		if(wait_for(&p, sfd, -1, -1) & SIGNALLED){
			signalled = 1;
			reason = "signal";
			break;
		}
	}
	if(!signalled && !get_flag(&p, &p.fatal)) signalled = run_input(&p, net, sfd, &reason);
	if(!signalled && !get_flag(&p, &p.fatal)){
		signalled = drain(&p, net, sfd);
		if(signalled) reason = "signal";
	}

	fatal = get_flag(&p, &p.fatal);
	chat_net_stop(net, signalled || fatal ? 0 : DISCONNECT_MS);
	deadline = clock_mono_ms() + CLOSE_MS;
	while(!get_flag(&p, &p.closed)){
		long long left = deadline - clock_mono_ms();

		if(left <= 0 || (wait_for(&p, sfd, -1, (int)left) & SIGNALLED)) break;
	}
	if(!fatal) out(&p, stdout, reason, "status disconnected");
	rc = fatal;
out:
	/* Paho may still call back while it is destroyed: p lives until then. */
	chat_net_free(net);
	if(sfd >= 0) close(sfd);
	if(p.wake[0] >= 0) close(p.wake[0]);
	if(p.wake[1] >= 0) close(p.wake[1]);
	if(have_lock) pthread_mutex_destroy(&p.lock);
	return rc;
}
