/* chat_plain.c: the plain line front end of chat; see chat_plain.h.
 *
 * The main thread waits in chat_loop (stdin, signals, wake-ups). Events
 * come from the MQTT library's threads too: each is printed as one line
 * under the loop's lock, and those the main thread waits for (connected,
 * fatal error, publish done, closed) also wake it. */
#include "chat_plain.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chat_cmd.h"
#include "chat_loop.h"

#define DRAIN_MS 10000          /* wait for acknowledgements at the end */
#define DISCONNECT_MS 1000      /* in-flight grace given to the DISCONNECT */
#define CLOSE_MS 3000           /* wait for the disconnect to complete */

struct plain {
	struct chat_loop loop;  /* its lock also guards stdout, stderr and the flags below */
	int ready;              /* the first connect attempt has an outcome */
	int out_failed;         /* stdout is gone */
};

struct line_reader {
	char buf[CHAT_LINE_MAX + 2]; /* a longest line with its "\r\n" */
	size_t len;
	int skipping;                /* inside a line that was too long */
};

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

	pthread_mutex_lock(&p->loop.lock);
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
	pthread_mutex_unlock(&p->loop.lock);
	if(broken) chat_loop_wake(&p->loop);
}

/* Appends " key=value" to buf (len bytes, used so far in *used). */
static void kv(char *buf, size_t len, size_t *used, const char *key, const char *value)
{
	int n;

	if(!value || *used >= len) return;
	n = snprintf(buf + *used, len - *used, " %s=%s", key, value);
	if(n > 0) *used += (size_t)n;
	if(*used >= len) *used = len - 1;
}

/* The "msg-info" line of a message with a seq or operation state:
 * msg-info ROOM SEQ|- SENDER ID key=value... (docs/CLIENT.md). */
static void msg_info(struct plain *p, const struct chat_event *ev)
{
	char buf[2048] = "";
	char num[32];
	size_t used = 0;

	if(!ev->seq && !ev->reply_to && !ev->thread && !ev->mentions && !ev->edited && !ev->deleted_by
			&& !ev->reactions && !ev->replies) return;
	if(ev->reply_to){
		snprintf(num, sizeof(num), "%ld", ev->reply_to);
		kv(buf, sizeof(buf), &used, "reply_to", num);
	}
	if(ev->thread){
		snprintf(num, sizeof(num), "%ld", ev->thread);
		kv(buf, sizeof(buf), &used, "thread", num);
	}
	kv(buf, sizeof(buf), &used, "mentions", ev->mentions);
	kv(buf, sizeof(buf), &used, "edited", ev->edited);
	kv(buf, sizeof(buf), &used, "deleted_by", ev->deleted_by);
	if(ev->deleted_by) kv(buf, sizeof(buf), &used, "deleted", ev->deleted_ts ? ev->deleted_ts : "-");
	if(ev->replies){
		snprintf(num, sizeof(num), "%ld", ev->replies);
		kv(buf, sizeof(buf), &used, "replies", num);
		kv(buf, sizeof(buf), &used, "last_reply", ev->last_reply);
	}
	if(ev->reactions){
		/* "R:C:users R2:C:users": one token each (reactions hold no spaces). */
		char copy[1024];
		char *save = NULL;

		snprintf(copy, sizeof(copy), "%s", ev->reactions);
		for(char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)){
			kv(buf, sizeof(buf), &used, "reaction", tok);
		}
	}
	if(ev->seq) snprintf(num, sizeof(num), "%ld", ev->seq);
	else snprintf(num, sizeof(num), "-");
	out(p, stdout, NULL, "msg-info %s %s %s %s%s", ev->room, num, ev->user, ev->id ? ev->id : "-", buf);
}

/* The line of an event applied to a message (CHAT_EV_OP). */
static void op_line(struct plain *p, const struct chat_event *ev)
{
	const char *kind = ev->op_kind ? ev->op_kind : "?";

	if(!strcmp(kind, "topic")) out(p, stdout, ev->text ? ev->text : "", "topic %s %s", ev->room, ev->user);
	else if(!strcmp(kind, "edit")) out(p, stdout, ev->text ? ev->text : "", "edit %s %ld %s", ev->room, ev->ref, ev->user);
	else if(!strcmp(kind, "delete")) out(p, stdout, NULL, "delete %s %ld %s", ev->room, ev->ref, ev->user);
	else out(p, stdout, NULL, "%s %s %ld %s %s", kind, ev->room, ev->ref, ev->user, ev->reaction ? ev->reaction : "?");
}

/* An item of a bans, receipts or search reply, or its end. */
static void list_line(struct plain *p, const struct chat_event *ev)
{
	const char *op = ev->op ? ev->op : "";
	const char *room = ev->room ? ev->room : "-";

	if(ev->kind == CHAT_EV_ITEMS_END){
		if(!strcmp(op, "search")) out(p, stdout, NULL, "search-end %ld %s", ev->count, ev->text ? ev->text : "-");
		else out(p, stdout, NULL, "%s-end %s %ld", !strcmp(op, "bans") ? "bans" : "seen", room, ev->count);
	}else if(!strcmp(op, "search")){
		out(p, stdout, ev->body, "found %s %ld %s %s", room, ev->seq, ev->ts ? ev->ts : "-", ev->user);
	}else if(!strcmp(op, "bans")){
		out(p, stdout, NULL, "ban %s %s %s %s", room, ev->user, ev->text ? ev->text : "-", ev->ts ? ev->ts : "-");
	}else{
		out(p, stdout, NULL, "seen %s %s %ld", room, ev->user, ev->seq);
	}
}

static void on_event(void *ctx, const struct chat_event *ev)
{
	struct plain *p = ctx;
	char diag[512];

	switch(ev->kind){
	case CHAT_EV_CONNECTED:
		out(p, stdout, NULL, "status connected");
		chat_loop_set(&p->loop, &p->ready, 1);
		break;
	case CHAT_EV_DISCONNECTED:
		out(p, stdout, ev->text && *ev->text ? ev->text : "unknown", "status disconnected");
		chat_loop_set(&p->loop, &p->ready, 1);
		break;
	case CHAT_EV_RECONNECTING:
		out(p, stdout, NULL, "status reconnecting %ld %ld", ev->count, ev->seq);
		break;
	case CHAT_EV_MSG:
		out(p, stdout, ev->body, "msg %s %s", ev->room, ev->user);
		msg_info(p, ev);
		break;
	case CHAT_EV_OP:
		op_line(p, ev);
		break;
	case CHAT_EV_SEQ:
		out(p, stdout, NULL, "seq %s %ld %s %s", ev->room, ev->seq, ev->user, ev->id ? ev->id : "-");
		break;
	case CHAT_EV_MENTION:
		out(p, stdout, ev->body, "mention %s %ld %s", ev->room, ev->seq, ev->user);
		break;
	case CHAT_EV_READ:
		out(p, stdout, NULL, "read %s %s %ld", ev->room, ev->user, ev->seq);
		break;
	case CHAT_EV_ITEM:
	case CHAT_EV_ITEMS_END:
		list_line(p, ev);
		break;
	case CHAT_EV_RECEIPT:
		out(p, stdout, NULL, "receipt %s %ld %s", ev->room, ev->seq, ev->id);
		break;
	case CHAT_EV_HISTORY:
		if(ev->op_kind && strcmp(ev->op_kind, "message")){
			char ref[32] = "-";

			if(ev->ref) snprintf(ref, sizeof(ref), "%ld", ev->ref);
			out(p, stdout, ev->reaction ? ev->reaction : ev->text, "history-event %s %ld %s %s %s %s",
					ev->room, ev->seq, ev->ts, ev->user, ev->op_kind, ref);
			break;
		}
		out(p, stdout, ev->body, "history %s %ld %s %s", ev->room, ev->seq, ev->ts, ev->user);
		msg_info(p, ev);
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
		}else if(ev->op && !strcmp(ev->op, "revoke_token")){
			out(p, stdout, NULL, "ok revoke_token %s", ev->id ? ev->id : "-");
		}else if(ev->op && !strcmp(ev->op, "password")){
			out(p, stdout, NULL, "ok password %ld", ev->count);
		}else if(ev->op && !strcmp(ev->op, "topic")){
			out(p, stdout, NULL, "ok topic %s %ld", ev->room ? ev->room : "-", ev->seq);
		}else if(ev->op && !strcmp(ev->op, "role")){
			out(p, stdout, NULL, "ok role %s %s %s", ev->room ? ev->room : "-", ev->user ? ev->user : "-",
					ev->state ? ev->state : "-");
		}else if(ev->op && !strcmp(ev->op, "prefs")){
			out(p, stdout, NULL, "ok prefs share_read %s", ev->state ? ev->state : "-");
		}else if(ev->op && !strcmp(ev->op, "read")){
			out(p, stdout, NULL, "ok read %s %ld", ev->room ? ev->room : "-", ev->seq);
		}else{
			out(p, stdout, NULL, "ok %s%s%s%s%s", ev->op ? ev->op : "-", ev->room ? " " : "", ev->room ? ev->room : "",
					ev->user ? " " : "", ev->user ? ev->user : "");
		}
		break;
	case CHAT_EV_TOKEN:
		out(p, stdout, ev->text, "token %s %s %s %s %s", ev->id, ev->ts, ev->state, ev->code, ev->body);
		break;
	case CHAT_EV_TOKENS_END:
		out(p, stdout, NULL, "tokens-end %ld", ev->count);
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
		if(ev->fatal) chat_loop_set(&p->loop, &p->loop.fatal, ev->fatal);
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
		chat_loop_wake(&p->loop);
		break;
	case CHAT_EV_CLOSED:
		chat_loop_set(&p->loop, &p->loop.closed, 1);
		break;
	}
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
static int run_input(struct plain *p, struct chat_net *net, const char **reason)
{
	static struct line_reader lr;
	ssize_t n;

	memset(&lr, 0, sizeof(lr));
	for(;;){
		int got, signo;

		if(chat_loop_get(&p->loop, &p->loop.fatal)) return 0;
		if(chat_loop_get(&p->loop, &p->out_failed)){
			*reason = "output closed";
			return 0;
		}
		got = chat_loop_wait(&p->loop, STDIN_FILENO, -1, &signo);
		if(signo == SIGINT || signo == SIGTERM){
			*reason = "signal";
			return 1;
		}
		if(!(got & CHAT_LOOP_INPUT)) continue;
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

/* Runs one plain-mode session with opts; returns the exit status (0 done,
 * 1 failure, 2 login refused). Everything it creates is freed here. */
int chat_plain_run(const struct chat_net_opts *opts)
{
	struct plain p;
	struct chat_net *net = NULL;
	const char *reason = "end of input";
	int signalled = 0;
	int fatal;
	int rc = 1;

	memset(&p, 0, sizeof(p));
	if(chat_loop_init(&p.loop, 0)) goto out;
	net = chat_net_new(opts, on_event, &p);
	if(!net) goto out;
	if(chat_net_start(net)) goto out;

	/* Read no input before the first connect attempt has an outcome, so
	 * that the first lines find the rooms and the inbox subscribed. */
	while(!chat_loop_get(&p.loop, &p.ready) && !chat_loop_get(&p.loop, &p.loop.fatal)){
		int signo;

		chat_loop_wait(&p.loop, -1, -1, &signo);
		if(signo == SIGINT || signo == SIGTERM){
			signalled = 1;
			reason = "signal";
			break;
		}
	}
	if(!signalled && !chat_loop_get(&p.loop, &p.loop.fatal)) signalled = run_input(&p, net, &reason);
	if(!signalled && !chat_loop_get(&p.loop, &p.loop.fatal)){
		/* Every message sent has its receipt (or error), every request
		 * is acknowledged, or the time is up. */
		int r = chat_loop_drain(&p.loop, net, DRAIN_MS);

		if(r < 0){
			chat_net_error(net, "not_sent", "%zu message(s) without a receipt or request(s) not acknowledged "
					"after %d s", chat_net_pending(net), DRAIN_MS / 1000);
		}
		signalled = r > 0;
		if(signalled) reason = "signal";
	}
	fatal = chat_loop_get(&p.loop, &p.loop.fatal);
	chat_loop_close(&p.loop, net, signalled || fatal ? 0 : DISCONNECT_MS, CLOSE_MS);
	if(!fatal) out(&p, stdout, reason, "status disconnected");
	rc = fatal;
out:
	/* Paho may still call back while it is destroyed: p lives until then. */
	chat_net_free(net);
	chat_loop_free(&p.loop);
	return rc;
}
