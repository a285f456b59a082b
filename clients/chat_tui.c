/* chat_tui.c: the full-screen front end of chat (ncursesw); see
 * chat_tui.h.
 *
 * Threads: events come from the MQTT library's threads. on_event copies
 * each into a queue under t->lock and writes a byte to the wake pipe; only
 * the main thread touches the screen and the model (rooms, lines, users).
 * The main thread waits in poll() on the terminal, a signalfd (SIGINT,
 * SIGTERM, SIGWINCH) and the wake pipe, with a one-second tick for the
 * clock and for typing indicators that expire. */
#include "chat_signals.h"
#include "chat_tui.h"

#define NCURSES_WIDECHAR 1
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include <ncursesw/curses.h>

#include "chat_cmd.h"
#include "names.h"
#include "clock.h"

#define ROOMS_W 20              /* width of the room list */
#define MEMBERS_W 18            /* width of the member list */
#define SIDES_MIN_COLS 70       /* narrower: no side lists */
#define LINES_MAX 5000          /* lines kept per room */
#define USERS_MAX 1024          /* users whose presence is known */
#define MEMBERS_MAX 200         /* members shown per room */
#define TYPING_MAX 16           /* typing users remembered per room */
#define TYPING_TTL_S 6
#define TYPING_SEND_S 3         /* at most one typing indicator per this */
#define INPUT_HISTORY 100
#define HISTORY_PAGE 50
#define ROOMS_POLL_S 10         /* the server does not announce new rooms (a DM, an invite): ask */
#define DRAIN_MS 3000
#define CLOSE_MS 2000

enum line_kind { LINE_MSG, LINE_EMOTE, LINE_INFO, LINE_ERROR };

struct line {
	enum line_kind kind;
	long seq;                   /* from the archive, else 0 */
	char when[6];               /* HH:MM */
	char sender[NAME_USER_MAX + 1];
	char id[NAME_MSGID_MAX + 1];
	char *text;
};

struct typist {
	char user[NAME_USER_MAX + 1];
	time_t until;
};

struct room {
	char name[NAME_ROOM_MAX + 1];
	char with[NAME_USER_MAX + 1];   /* the other person of a direct room */
	struct line *lines;
	size_t nlines, cap;
	long unread;
	int mention;                    /* an unread message names us */
	long marker;                    /* lines before the read marker, or -1 */
	int scroll;                     /* screen rows scrolled up from the bottom */
	int loaded;                     /* the newest page of history is in */
	int loading_older;
	int at_start;                   /* history has nothing older */
	struct line *batch;             /* a history reply being received */
	size_t nbatch, batch_cap;
	char members[MEMBERS_MAX][NAME_USER_MAX + 1];
	size_t nmembers;
	char next_members[MEMBERS_MAX][NAME_USER_MAX + 1];
	size_t nnext;
	struct typist typing[TYPING_MAX];
};

struct user {
	char name[NAME_USER_MAX + 1];
	char state[16];
	char text[128];
};

/* A copied event waiting for the main thread. */
struct qev {
	struct qev *next;
	struct chat_event ev;
};

struct tui {
	pthread_mutex_t lock;       /* the queue and the flags below */
	int wake[2];
	struct qev *head, *tail;
	int fatal;
	int closed;

	/* Main thread only: */
	struct chat_net *net;
	struct room *rooms[CHAT_ROOMS_MAX];
	size_t nrooms;
	size_t current;             /* index into rooms; nrooms when none */
	struct user users[USERS_MAX];
	size_t nusers;
	int online;
	int ever_connected;
	char status_note[128];      /* "reconnecting", the last disconnect reason */
	time_t retry_at;            /* offline: when the next connect attempt is due */
	long retry_attempt;         /* its number since the connection was lost, or 0 */
	wchar_t input[CHAT_LINE_MAX + 1];
	size_t input_len, cursor;
	char *history[INPUT_HISTORY];
	size_t nhistory;
	size_t history_pos;         /* nhistory: the line being typed */
	wchar_t comp_prefix[NAME_ROOM_MAX + 2];
	size_t comp_start;
	int comp_index;             /* -1: no completion under way */
	time_t typing_sent;
	time_t rooms_polled;
	int quit;
};

/* ---- events from any thread ---- */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void qev_free(struct qev *q)
{
	if(!q) return;
	free((char *)q->ev.room);
	free((char *)q->ev.user);
	free((char *)q->ev.id);
	free((char *)q->ev.body);
	free((char *)q->ev.ts);
	free((char *)q->ev.state);
	free((char *)q->ev.code);
	free((char *)q->ev.text);
	free((char *)q->ev.topic);
	free((char *)q->ev.op);
	free((char *)q->ev.visibility);
	free(q);
}

static void wake(struct tui *t)
{
	char c = 1;
	ssize_t r = write(t->wake[1], &c, 1); /* full pipe: a wake-up is pending anyway */

	(void)r;
}

static void on_event(void *ctx, const struct chat_event *ev)
{
	struct tui *t = ctx;
	struct qev *q = NULL;

	if(ev->kind == CHAT_EV_SENT || ev->kind == CHAT_EV_BAD_PAYLOAD || ev->kind == CHAT_EV_NOTE){
		wake(t); /* the queued count may have changed; diagnostics are not shown */
		return;
	}
	if(ev->kind == CHAT_EV_CLOSED){
		pthread_mutex_lock(&t->lock);
		t->closed = 1;
		pthread_mutex_unlock(&t->lock);
		wake(t);
		return;
	}
	q = calloc(1, sizeof(*q));
	if(!q) return;
	q->ev = *ev;
	q->ev.room = dup_or_null(ev->room);
	q->ev.user = dup_or_null(ev->user);
	q->ev.id = dup_or_null(ev->id);
	q->ev.body = dup_or_null(ev->body);
	q->ev.ts = dup_or_null(ev->ts);
	q->ev.state = dup_or_null(ev->state);
	q->ev.code = dup_or_null(ev->code);
	q->ev.text = dup_or_null(ev->text);
	q->ev.topic = NULL;
	q->ev.op = dup_or_null(ev->op);
	q->ev.visibility = dup_or_null(ev->visibility);
	pthread_mutex_lock(&t->lock);
	if(ev->kind == CHAT_EV_ERROR && ev->fatal) t->fatal = ev->fatal;
	if(t->tail) t->tail->next = q;
	else t->head = q;
	t->tail = q;
	pthread_mutex_unlock(&t->lock);
	wake(t);
}

/* ---- the model (main thread) ---- */

static struct room *cur(struct tui *t)
{
	return t->current < t->nrooms ? t->rooms[t->current] : NULL;
}

static struct room *room_get(struct tui *t, const char *name, int create)
{
	struct room *r = NULL;

	if(!name) return NULL;
	for(size_t i = 0; i < t->nrooms; i++){
		if(!strcmp(t->rooms[i]->name, name)) return t->rooms[i];
	}
	if(!create || t->nrooms == CHAT_ROOMS_MAX || !name_room_valid(name)) return NULL;
	r = calloc(1, sizeof(*r));
	if(!r) return NULL;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->marker = -1;
	t->rooms[t->nrooms++] = r;
	return r;
}

static void line_clear(struct line *l)
{
	free(l->text);
	l->text = NULL;
}

static void room_free(struct room *r)
{
	if(!r) return;
	for(size_t i = 0; i < r->nlines; i++) line_clear(&r->lines[i]);
	for(size_t i = 0; i < r->nbatch; i++) line_clear(&r->batch[i]);
	free(r->lines);
	free(r->batch);
	free(r);
}

static void room_remove(struct tui *t, const char *name)
{
	for(size_t i = 0; i < t->nrooms; i++){
		if(strcmp(t->rooms[i]->name, name)) continue;
		room_free(t->rooms[i]);
		memmove(&t->rooms[i], &t->rooms[i + 1], (t->nrooms - i - 1) * sizeof(t->rooms[0]));
		t->nrooms--;
		if(t->current > i || t->current >= t->nrooms) t->current = t->current > 0 ? t->current - 1 : 0;
		if(t->nrooms == 0) t->current = 0;
		return;
	}
}

/* The display name of a room: "@bob" for a direct room, else "#name". */
static void room_label(const struct room *r, char *buf, size_t len)
{
	if(r->with[0]) snprintf(buf, len, "@%s", r->with);
	else snprintf(buf, len, "#%s", r->name);
}

static void now_hhmm(char when[6])
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(when, 6, "%H:%M", &tm);
}

/* HH:MM (local time) of a protocol timestamp, or now when ts is NULL. */
static void ts_hhmm(const char *ts, char when[6])
{
	struct tm tm;
	time_t secs;

	memset(&tm, 0, sizeof(tm));
	if(!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm)){
		now_hhmm(when);
		return;
	}
	secs = timegm(&tm);
	localtime_r(&secs, &tm);
	strftime(when, 6, "%H:%M", &tm);
}

static int line_fill(struct line *l, enum line_kind kind, long seq, const char *ts, const char *sender,
		const char *id, const char *text)
{
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	l->seq = seq;
	ts_hhmm(ts, l->when);
	snprintf(l->sender, sizeof(l->sender), "%s", sender ? sender : "");
	snprintf(l->id, sizeof(l->id), "%s", id ? id : "");
	if(kind == LINE_MSG && text && !strncmp(text, CHAT_CMD_EMOTE, strlen(CHAT_CMD_EMOTE))){
		l->kind = LINE_EMOTE;
		text += strlen(CHAT_CMD_EMOTE);
	}
	l->text = strdup(text ? text : "");
	return l->text ? 0 : -1;
}

static int room_has(const struct room *r, const char *sender, const char *id)
{
	if(!id || !*id) return 0;
	for(size_t i = r->nlines; i-- > 0;){
		if(!strcmp(r->lines[i].id, id) && !strcmp(r->lines[i].sender, sender)) return 1;
	}
	return 0;
}

static int room_reserve(struct room *r, size_t extra)
{
	struct line *grown = NULL;
	size_t cap = r->cap ? r->cap : 64;

	while(cap < r->nlines + extra) cap *= 2;
	if(cap == r->cap) return 0;
	grown = realloc(r->lines, cap * sizeof(*grown));
	if(!grown) return -1;
	r->lines = grown;
	r->cap = cap;
	return 0;
}

/* Drops the oldest lines beyond LINES_MAX. */
static void room_trim(struct room *r)
{
	size_t drop;

	if(r->nlines <= LINES_MAX) return;
	drop = r->nlines - LINES_MAX;
	for(size_t i = 0; i < drop; i++) line_clear(&r->lines[i]);
	memmove(r->lines, r->lines + drop, (r->nlines - drop) * sizeof(*r->lines));
	r->nlines -= drop;
	r->marker = r->marker >= (long)drop ? r->marker - (long)drop : -1;
	r->at_start = 0;
}

static void room_append(struct tui *t, struct room *r, enum line_kind kind, long seq, const char *ts,
		const char *sender, const char *id, const char *text)
{
	if(!r || room_reserve(r, 1)) return;
	if(line_fill(&r->lines[r->nlines], kind, seq, ts, sender, id, text)) return;
	r->nlines++;
	if(r->scroll > 0) r->scroll++; /* keep the view where the reader is */
	room_trim(r);
	(void)t;
}

/* An information or error line in the current room (or the first). */
static void info(struct tui *t, enum line_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void info(struct tui *t, enum line_kind kind, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	struct room *r = cur(t);

	if(!r && t->nrooms) r = t->rooms[0];
	if(!r) r = room_get(t, "lobby", 0);
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if(r) room_append(t, r, kind, 0, NULL, NULL, NULL, text);
}

static struct user *user_get(struct tui *t, const char *name, int create)
{
	for(size_t i = 0; i < t->nusers; i++){
		if(!strcmp(t->users[i].name, name)) return &t->users[i];
	}
	if(!create || t->nusers == USERS_MAX) return NULL;
	memset(&t->users[t->nusers], 0, sizeof(t->users[0]));
	snprintf(t->users[t->nusers].name, sizeof(t->users[0].name), "%s", name);
	snprintf(t->users[t->nusers].state, sizeof(t->users[0].state), "offline");
	return &t->users[t->nusers++];
}

static void member_add(struct room *r, const char *user)
{
	for(size_t i = 0; i < r->nmembers; i++){
		if(!strcmp(r->members[i], user)) return;
	}
	if(r->nmembers < MEMBERS_MAX) snprintf(r->members[r->nmembers++], sizeof(r->members[0]), "%s", user);
}

/* Makes room r current: the read marker goes before its unread lines,
 * which count as read now; members and history are asked for. */
static void switch_to(struct tui *t, struct room *r)
{
	struct room *old = cur(t);

	if(!r) return;
	if(old && old != r) old->marker = -1;
	for(size_t i = 0; i < t->nrooms; i++){
		if(t->rooms[i] == r) t->current = i;
	}
	if(r->unread > 0 && old != r){
		r->marker = r->unread < (long)r->nlines ? (long)r->nlines - r->unread : 0;
	}
	r->unread = 0;
	r->mention = 0;
	chat_net_switch(t->net, r->name);
	if(!r->loaded && !r->loading_older && t->online){
		r->loading_older = 1;
		chat_net_history(t->net, r->name, HISTORY_PAGE, 0);
	}
	if(t->online) chat_net_roster(t->net, r->name);
	chat_net_mark_read(t->net, r->name);
}

/* Follows what the network side says: the rooms it follows and which is
 * current (after /join, /leave, /msg replies). */
static void sync_rooms(struct tui *t)
{
	char current[NAME_ROOM_MAX + 1];
	char joined[CHAT_ROOMS_MAX * (NAME_ROOM_MAX + 1) + 1];
	char *save = NULL;
	struct room *r = NULL;

	chat_net_rooms_joined(t->net, current, sizeof(current), joined, sizeof(joined));
	for(char *w = strtok_r(joined, " ", &save); w; w = strtok_r(NULL, " ", &save)) room_get(t, w, 1);
	r = room_get(t, current, 0);
	if(r && r != cur(t)) switch_to(t, r);
}

static void history_batch_commit(struct tui *t, struct room *r, long tag)
{
	size_t keep = 0;

	/* Drop what is shown already (a message seen live, or twice asked). */
	for(size_t i = 0; i < r->nbatch; i++){
		if(room_has(r, r->batch[i].sender, r->batch[i].id)){
			line_clear(&r->batch[i]);
			continue;
		}
		r->batch[keep++] = r->batch[i];
	}
	r->nbatch = 0;
	if(keep > 0 && !room_reserve(r, keep)){
		memmove(r->lines + keep, r->lines, r->nlines * sizeof(*r->lines));
		memcpy(r->lines, r->batch, keep * sizeof(*r->lines));
		r->nlines += keep;
		if(r->marker >= 0) r->marker += (long)keep;
		room_trim(r);
	}else{
		for(size_t i = 0; i < keep; i++) line_clear(&r->batch[i]);
	}
	if(tag == CHAT_TAG_NEWEST) r->loaded = 1;
	if(keep == 0 && tag == CHAT_TAG_OLDER) r->at_start = 1;
	r->loading_older = 0;
	(void)t;
}

static void history_batch_add(struct room *r, const struct chat_event *ev)
{
	struct line *grown = NULL;

	if(r->nbatch == r->batch_cap){
		size_t cap = r->batch_cap ? r->batch_cap * 2 : 64;

		grown = realloc(r->batch, cap * sizeof(*grown));
		if(!grown) return;
		r->batch = grown;
		r->batch_cap = cap;
	}
	if(!line_fill(&r->batch[r->nbatch], LINE_MSG, ev->seq, ev->ts, ev->user, ev->id, ev->body)) r->nbatch++;
}

static int mentions(const char *body, const char *user)
{
	const char *p = body;
	size_t n = strlen(user);

	while((p = strstr(p, user)) != NULL){
		int before = p == body || !((p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z'));
		int after = !((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z'));

		if(before && after) return 1;
		p += n;
	}
	return 0;
}

static void typing_set(struct room *r, const char *user, int on)
{
	struct typist *slot = NULL;
	time_t now = time(NULL);

	for(size_t i = 0; i < TYPING_MAX; i++){
		if(!strcmp(r->typing[i].user, user)) slot = &r->typing[i];
	}
	if(!on){
		if(slot) slot->user[0] = '\0';
		return;
	}
	for(size_t i = 0; !slot && i < TYPING_MAX; i++){
		if(!r->typing[i].user[0] || r->typing[i].until < now) slot = &r->typing[i];
	}
	if(!slot) return;
	snprintf(slot->user, sizeof(slot->user), "%s", user);
	slot->until = now + TYPING_TTL_S;
}

static void on_connected(struct tui *t)
{
	struct room *r = cur(t);

	t->online = 1;
	t->retry_attempt = 0;
	t->status_note[0] = '\0';
	if(!t->ever_connected){
		t->ever_connected = 1;
		chat_net_rooms(t->net); /* all our rooms, with unread counts */
		t->rooms_polled = time(NULL);
		if(r){
			r->loading_older = 1;
			chat_net_history(t->net, r->name, HISTORY_PAGE, 0);
			chat_net_roster(t->net, r->name);
		}
	}else{
		info(t, LINE_INFO, "connected again; fetching what was missed");
		if(r) chat_net_roster(t->net, r->name);
	}
}

static void apply(struct tui *t, const struct chat_event *ev)
{
	const char *me = chat_net_user(t->net);
	struct room *r = NULL;
	struct user *u = NULL;

	switch(ev->kind){
	case CHAT_EV_CONNECTED:
		on_connected(t);
		break;
	case CHAT_EV_DISCONNECTED:
		if(t->online || !t->ever_connected) info(t, LINE_ERROR, "disconnected: %s", ev->text ? ev->text : "?");
		t->online = 0;
		snprintf(t->status_note, sizeof(t->status_note), "%s", ev->text ? ev->text : "");
		break;
	case CHAT_EV_RECONNECTING:
		t->online = 0;
		t->retry_at = time(NULL) + (ev->count + 999) / 1000;
		t->retry_attempt = ev->seq;
		break;
	case CHAT_EV_MSG:
		r = room_get(t, ev->room, 1);
		if(!r || room_has(r, ev->user, ev->id)) break;
		room_append(t, r, LINE_MSG, ev->seq, ev->ts, ev->user, ev->id, ev->body);
		member_add(r, ev->user);
		typing_set(r, ev->user, 0);
		if(r != cur(t) && strcmp(ev->user, me)){
			r->unread++;
			if(mentions(ev->body, me) || r->with[0]) r->mention = 1;
		}else if(r == cur(t)){
			chat_net_mark_read(t->net, r->name);
		}
		break;
	case CHAT_EV_RECEIPT:
		r = room_get(t, ev->room, 0);
		if(r == cur(t) && r) chat_net_mark_read(t->net, r->name);
		break;
	case CHAT_EV_HISTORY:
		r = room_get(t, ev->room, 0);
		if(r) history_batch_add(r, ev);
		break;
	case CHAT_EV_HISTORY_END:
		r = room_get(t, ev->room, 0);
		if(r) history_batch_commit(t, r, ev->tag);
		if(r && r == cur(t)) chat_net_mark_read(t->net, r->name);
		break;
	case CHAT_EV_ROOM:
		r = room_get(t, ev->room, 1);
		if(!r) break;
		if(ev->user) snprintf(r->with, sizeof(r->with), "%s", ev->user);
		if(r != cur(t)) r->unread = ev->unread;
		else chat_net_mark_read(t->net, r->name); /* its last seq may be known now */
		chat_net_track(t->net, r->name, 0);
		if(!r->loaded && !r->loading_older){
			r->loading_older = 1;
			chat_net_history(t->net, r->name, HISTORY_PAGE, 0);
		}
		break;
	case CHAT_EV_ROOMS_END:
		break;
	case CHAT_EV_PRESENCE:
		u = user_get(t, ev->user, 1);
		if(!u) break;
		if(strcmp(u->state, ev->state) || strcmp(u->text, ev->text ? ev->text : "")){
			/* The retained states the broker sends on subscribing are
			 * not news (the retain flag says which; a clock would
			 * guess wrong when a change follows the connect). */
			if(!ev->retained && strcmp(ev->user, me)
					&& (strcmp(u->state, "offline") || strcmp(ev->state, "offline"))){
				struct room *c = cur(t);
				int member = 0;

				for(size_t i = 0; c && i < c->nmembers; i++) member |= !strcmp(c->members[i], ev->user);
				info(t, LINE_INFO, "%s is %s%s%s", ev->user, ev->state, ev->text ? ": " : "",
						ev->text ? ev->text : "");
				/* Someone new may have joined: ask for the members again. */
				if(c && !member && t->online) chat_net_roster(t->net, c->name);
			}
			snprintf(u->state, sizeof(u->state), "%s", ev->state);
			snprintf(u->text, sizeof(u->text), "%s", ev->text ? ev->text : "");
		}
		break;
	case CHAT_EV_ERROR:
		if(ev->room && ev->op && !strcmp(ev->op, "history")){
			r = room_get(t, ev->room, 0);
			if(r) r->loading_older = 0;
		}
		if(ev->op && !strcmp(ev->op, "roster")) break; /* no presence-svc roster: members come from messages */
		info(t, LINE_ERROR, "%s%s%s: %s", ev->code ? ev->code : "error", ev->room ? " in " : "",
				ev->room ? ev->room : "", ev->text && *ev->text ? ev->text : "(no details)");
		break;
	case CHAT_EV_HELP:
		info(t, LINE_INFO, "%s", ev->text ? ev->text : "");
		break;
	case CHAT_EV_REPLY:
		if(!ev->op) break;
		if(!strcmp(ev->op, "dm") && ev->room && ev->user){
			r = room_get(t, ev->room, 1);
			if(r) snprintf(r->with, sizeof(r->with), "%s", ev->user);
		}else if(!strcmp(ev->op, "leave") && ev->room){
			room_remove(t, ev->room);
			/* The note goes where the reader is now: the room the
			 * network side made current, not the next in the list. */
			sync_rooms(t);
			info(t, LINE_INFO, "you left %s", ev->room);
		}else if(!strcmp(ev->op, "status")){
			info(t, LINE_INFO, "you are %s%s%s", ev->state ? ev->state : "?", ev->text ? ": " : "",
					ev->text ? ev->text : "");
		}else if(!strcmp(ev->op, "invite") || !strcmp(ev->op, "kick")){
			info(t, LINE_INFO, "%s %s %s", ev->op, ev->user ? ev->user : "?", ev->room ? ev->room : "");
		}else if(!strcmp(ev->op, "create") && ev->room){
			info(t, LINE_INFO, "created %s", ev->room);
		}
		break;
	case CHAT_EV_PUBLIC_ROOM:
		info(t, LINE_INFO, "public room #%s: %ld members, %ld messages", ev->room, ev->count, ev->seq);
		break;
	case CHAT_EV_PUBLIC_ROOMS_END:
		info(t, LINE_INFO, "%ld public rooms (/join ROOM)", ev->count);
		break;
	case CHAT_EV_MEMBER:
		r = room_get(t, ev->room, 0);
		if(r && r->nnext < MEMBERS_MAX) snprintf(r->next_members[r->nnext++], sizeof(r->members[0]), "%s", ev->user);
		u = user_get(t, ev->user, 1);
		if(u){
			snprintf(u->state, sizeof(u->state), "%s", ev->state);
			snprintf(u->text, sizeof(u->text), "%s", ev->text ? ev->text : "");
		}
		break;
	case CHAT_EV_MEMBERS_END:
		r = room_get(t, ev->room, 0);
		if(!r) break;
		memcpy(r->members, r->next_members, r->nnext * sizeof(r->members[0]));
		r->nmembers = r->nnext;
		r->nnext = 0;
		break;
	case CHAT_EV_TYPING:
		r = room_get(t, ev->room, 0);
		if(r && strcmp(ev->user, me)) typing_set(r, ev->user, !strcmp(ev->state, "on"));
		break;
	default:
		break;
	}
}

/* Applies every queued event; returns 1 when there were any. */
static int drain_events(struct tui *t)
{
	struct qev *list = NULL;
	int any = 0;

	pthread_mutex_lock(&t->lock);
	list = t->head;
	t->head = t->tail = NULL;
	pthread_mutex_unlock(&t->lock);
	while(list){
		struct qev *q = list;

		list = q->next;
		apply(t, &q->ev);
		qev_free(q);
		any = 1;
	}
	if(any) sync_rooms(t);
	return any;
}

/* ---- drawing ---- */

/* Decodes one character of UTF-8 at s (n bytes left) into *wc; returns
 * the bytes used (at least 1: an invalid byte becomes U+FFFD). */
static size_t next_char(const char *s, size_t n, wchar_t *wc)
{
	mbstate_t st;
	size_t r;

	memset(&st, 0, sizeof(st));
	r = mbrtowc(wc, s, n, &st);
	if(r == (size_t)-1 || r == (size_t)-2 || r == 0){
		*wc = 0xFFFD;
		return 1;
	}
	return r;
}

static int char_width(wchar_t wc)
{
	int w = wcwidth(wc);

	return w < 0 ? 1 : w;
}

/* Draws UTF-8 s at the cursor, at most maxw columns; control characters
 * as '?'. Returns the columns used. */
static int put_text(const char *s, int maxw)
{
	size_t n = strlen(s);
	int used = 0;

	while(n > 0){
		wchar_t wc;
		size_t k = next_char(s, n, &wc);
		int w;

		if(wc < 0x20 || (wc >= 0x7f && wc < 0xa0)) wc = L'?';
		w = char_width(wc);
		if(used + w > maxw) break;
		if(w > 0 || used > 0) addnwstr(&wc, 1);
		used += w;
		s += k;
		n -= k;
	}
	return used;
}

/* Bytes of s (n bytes) that fit in one row of width columns, breaking at
 * the last space when a word would be cut. At least one character. */
static size_t row_bytes(const char *s, size_t n, int width)
{
	size_t pos = 0, last_space = 0;
	int used = 0;

	while(pos < n){
		wchar_t wc;
		size_t k = next_char(s + pos, n - pos, &wc);
		int w = char_width(wc);

		if(used + w > width && pos > 0) return last_space > 0 ? last_space : pos;
		if(wc == L' ') last_space = pos + k;
		used += w;
		pos += k;
	}
	return pos;
}

/* The text of line l as shown, into buf: "HH:MM <sender> text". */
static void line_text(const struct line *l, char *buf, size_t len)
{
	switch(l->kind){
	case LINE_MSG: snprintf(buf, len, "%s <%s> %s", l->when, l->sender, l->text); break;
	case LINE_EMOTE: snprintf(buf, len, "%s * %s %s", l->when, l->sender, l->text); break;
	case LINE_INFO: snprintf(buf, len, "%s -- %s", l->when, l->text); break;
	case LINE_ERROR: snprintf(buf, len, "%s !! %s", l->when, l->text); break;
	}
}

static int line_rows(const struct line *l, int width, char *buf, size_t len)
{
	size_t n, pos = 0;
	int rows = 0;

	line_text(l, buf, len);
	n = strlen(buf);
	while(pos < n){
		pos += row_bytes(buf + pos, n - pos, width);
		rows++;
	}
	return rows ? rows : 1;
}

static void draw_line_rows(const struct line *l, int y0, int x, int width, int skip, int top, int bottom,
		const char *me, char *buf, size_t len)
{
	size_t n, pos = 0;
	int row = 0;
	attr_t attr = A_NORMAL;

	line_text(l, buf, len);
	n = strlen(buf);
	if(l->kind == LINE_ERROR) attr = A_BOLD;
	else if(l->kind == LINE_INFO) attr = A_DIM;
	else if(l->kind == LINE_MSG && mentions(l->text, me) && strcmp(l->sender, me)) attr = A_BOLD;
	while(pos < n || row == 0){
		size_t k = pos < n ? row_bytes(buf + pos, n - pos, width) : 0;
		int y = y0 + row - skip;

		if(row >= skip && y >= top && y < bottom){
			char save = buf[pos + k];

			buf[pos + k] = '\0';
			move(y, x);
			attron(attr);
			put_text(buf + pos, width);
			attroff(attr);
			buf[pos + k] = save;
		}
		pos += k;
		row++;
		if(k == 0) break;
	}
}

static void draw_messages(struct tui *t, int top, int bottom, int x, int width)
{
	static char buf[CHAT_LINE_MAX * 2 + 256];
	struct room *r = cur(t);
	const char *me = chat_net_user(t->net);
	int height = bottom - top;
	int y = bottom;
	int skip_rows;

	if(!r || height <= 0 || width < 10) return;
	skip_rows = r->scroll;
	/* From the newest line up, until the pane is full. */
	for(size_t i = r->nlines; i-- > 0 && y > top;){
		int rows = line_rows(&r->lines[i], width, buf, sizeof(buf));

		if(skip_rows >= rows){
			skip_rows -= rows;
		}else{
			int shown = rows - skip_rows;

			y -= shown;
			draw_line_rows(&r->lines[i], y, x, width, 0, top, bottom, me, buf, sizeof(buf));
			skip_rows = 0;
		}
		if(r->marker >= 0 && (size_t)r->marker == i && y > top && skip_rows == 0){
			y--;
			move(y, x);
			attron(A_BOLD);
			for(int c = 0; c < width; c++) addch(c == 2 || c == 3 ? ' ' : '-');
			mvaddstr(y, x + (width > 30 ? width / 2 - 6 : 0), " new messages ");
			attroff(A_BOLD);
		}
	}
	if(y > top && r->scroll > 0 && r->at_start){
		mvaddstr(top, x, "-- start of the room --");
	}
}

static void draw_rooms(struct tui *t, int top, int bottom)
{
	char label[NAME_ROOM_MAX + 2];
	char count[24];

	mvaddstr(top, 0, "Rooms");
	for(size_t i = 0; i < t->nrooms && top + 1 + (int)i < bottom; i++){
		struct room *r = t->rooms[i];
		int y = top + 1 + (int)i;
		int is_cur = i == t->current;

		room_label(r, label, sizeof(label));
		move(y, 0);
		if(is_cur) attron(A_REVERSE);
		else if(r->unread) attron(A_BOLD);
		addch(r->mention ? '!' : r->unread ? '*' : ' ');
		put_text(label, ROOMS_W - 6);
		if(r->unread){
			snprintf(count, sizeof(count), "%ld", r->unread > 999 ? 999 : r->unread);
			mvprintw(y, ROOMS_W - 2 - (int)strlen(count), "%s", count);
		}
		if(is_cur) attroff(A_REVERSE);
		else if(r->unread) attroff(A_BOLD);
	}
	mvvline(top, ROOMS_W - 1, ACS_VLINE, bottom - top);
}

static char presence_mark(const struct user *u)
{
	if(!u || !strcmp(u->state, "offline")) return ' ';
	if(!strcmp(u->state, "away")) return '~';
	if(!strcmp(u->state, "dnd")) return '-';
	return '+';
}

static void draw_members(struct tui *t, int top, int bottom)
{
	struct room *r = cur(t);
	int x = COLS - MEMBERS_W;

	mvvline(top, x - 1, ACS_VLINE, bottom - top);
	mvaddstr(top, x, "Members");
	if(!r) return;
	for(size_t i = 0; i < r->nmembers && top + 1 + (int)i < bottom; i++){
		const struct user *u = user_get(t, r->members[i], 0);
		char mark = presence_mark(u);
		char entry[NAME_USER_MAX + 140];

		if(u && u->text[0]) snprintf(entry, sizeof(entry), "%c%s (%s)", mark, r->members[i], u->text);
		else snprintf(entry, sizeof(entry), "%c%s", mark, r->members[i]);
		move(top + 1 + (int)i, x);
		if(mark == ' ') attron(A_DIM);
		put_text(entry, MEMBERS_W);
		if(mark == ' ') attroff(A_DIM);
	}
}

static void draw_status(struct tui *t, int y)
{
	char line[512];
	char typing[200] = "";
	char label[NAME_ROOM_MAX + 2] = "(no room)";
	struct room *r = cur(t);
	size_t pending = chat_net_pending(t->net);
	time_t now = time(NULL);
	size_t used = 0;
	int ntyping = 0;

	if(r){
		room_label(r, label, sizeof(label));
		for(size_t i = 0; i < TYPING_MAX; i++){
			if(r->typing[i].user[0] && r->typing[i].until >= now){
				int n = snprintf(typing + used, sizeof(typing) - used, "%s%s", ntyping ? ", " : "", r->typing[i].user);

				if(n > 0 && (size_t)n < sizeof(typing) - used) used += (size_t)n;
				ntyping++;
			}
		}
	}
	move(y, 0);
	attron(A_REVERSE);
	for(int c = 0; c < COLS; c++) addch(' ');
	move(y, 0);
	if(!t->online){
		attron(A_BOLD);
		if(t->retry_attempt > 0 && t->retry_at > now){
			snprintf(line, sizeof(line), " OFFLINE - reconnecting in %lld s (attempt %ld) ",
					(long long)(t->retry_at - now), t->retry_attempt);
		}else if(t->retry_attempt > 0){
			snprintf(line, sizeof(line), " OFFLINE - reconnecting (attempt %ld) ", t->retry_attempt);
		}else{
			snprintf(line, sizeof(line), " %s ", t->ever_connected ? "OFFLINE - reconnecting" : "CONNECTING");
		}
		put_text(line, COLS);
		attroff(A_BOLD);
	}else{
		put_text(" online ", COLS);
	}
	snprintf(line, sizeof(line), "| %s | %s |%s%s%s%s", chat_net_user(t->net), label,
			ntyping ? " " : "", typing, ntyping ? (ntyping > 1 ? " are typing" : " is typing") : "",
			pending && !t->online ? "" : "");
	put_text(line, COLS - getcurx(stdscr));
	if(pending && !t->online){
		snprintf(line, sizeof(line), " queued: %zu", pending);
		put_text(line, COLS - getcurx(stdscr));
	}
	attroff(A_REVERSE);
}

static void draw_input(struct tui *t, int y)
{
	const char *prompt = "> ";
	int width = COLS - 2;
	size_t start = 0;
	int used = 0;
	int cursor_x = 2;

	if(width < 1) return;
	/* Scroll the input so the cursor stays visible. */
	for(;;){
		int w = 0;

		for(size_t i = start; i < t->cursor; i++) w += char_width(t->input[i]);
		if(w < width || start >= t->cursor) break;
		start++;
	}
	move(y, 0);
	clrtoeol();
	addstr(prompt);
	for(size_t i = start; i < t->input_len; i++){
		int w = char_width(t->input[i]);

		if(used + w > width) break;
		if(i == t->cursor) cursor_x = 2 + used;
		addnwstr(&t->input[i], 1);
		used += w;
	}
	if(t->cursor >= t->input_len) cursor_x = 2 + used;
	move(y, cursor_x < COLS ? cursor_x : COLS - 1);
}

static void redraw(struct tui *t)
{
	int sides = COLS >= SIDES_MIN_COLS;
	int bottom = LINES - 2;

	erase();
	if(LINES < 4 || COLS < 20){
		mvaddstr(0, 0, "terminal too small");
		refresh();
		return;
	}
	if(sides){
		draw_rooms(t, 0, bottom);
		draw_members(t, 0, bottom);
		draw_messages(t, 0, bottom, ROOMS_W + 1, COLS - ROOMS_W - MEMBERS_W - 3);
	}else{
		draw_messages(t, 0, bottom, 0, COLS);
	}
	draw_status(t, LINES - 2);
	draw_input(t, LINES - 1);
	refresh();
}

/* ---- input ---- */

/* The input line as UTF-8 into buf; returns its length, or -1. */
static int input_utf8(struct tui *t, char *buf, size_t len)
{
	mbstate_t st;
	size_t used = 0;

	memset(&st, 0, sizeof(st));
	for(size_t i = 0; i < t->input_len; i++){
		char mb[MB_LEN_MAX];
		size_t k = wcrtomb(mb, t->input[i], &st);

		if(k == (size_t)-1 || used + k >= len) return -1;
		memcpy(buf + used, mb, k);
		used += k;
	}
	buf[used] = '\0';
	return (int)used;
}

static void input_set(struct tui *t, const char *s)
{
	size_t n = strlen(s);

	t->input_len = 0;
	while(n > 0 && t->input_len < CHAT_LINE_MAX){
		wchar_t wc;
		size_t k = next_char(s, n, &wc);

		t->input[t->input_len++] = wc;
		s += k;
		n -= k;
	}
	t->cursor = t->input_len;
}

static void history_push(struct tui *t, const char *line)
{
	char *copy = strdup(line);

	if(!copy) return;
	if(t->nhistory == INPUT_HISTORY){
		free(t->history[0]);
		memmove(t->history, t->history + 1, (INPUT_HISTORY - 1) * sizeof(t->history[0]));
		t->nhistory--;
	}
	t->history[t->nhistory++] = copy;
	t->history_pos = t->nhistory;
}

static void submit(struct tui *t)
{
	static char line[CHAT_LINE_MAX * MB_LEN_MAX + 1];
	int len = input_utf8(t, line, sizeof(line));

	t->input_len = t->cursor = 0;
	if(len <= 0) return;
	history_push(t, line);
	if(chat_cmd_line(t->net, line, (size_t)len) == CHAT_CMD_QUIT) t->quit = 1;
	sync_rooms(t);
}

/* Candidates for Tab: commands at the start of the line, else user and
 * room names. Returns candidate i starting with prefix, or NULL. */
static const char *candidate(struct tui *t, const char *prefix, int first_word, int i)
{
	size_t n = strlen(prefix);
	struct room *r = cur(t);
	const char *name = NULL;

	if(first_word && prefix[0] == '/'){
		for(size_t k = 0; (name = chat_cmd_name(k)) != NULL; k++){
			if(!strncmp(name, prefix, n) && i-- == 0) return name;
		}
		return NULL;
	}
	for(size_t k = 0; r && k < r->nmembers; k++){
		if(!strncmp(r->members[k], prefix, n) && i-- == 0) return r->members[k];
	}
	for(size_t k = 0; k < t->nusers; k++){
		int dup = 0;

		for(size_t m = 0; r && m < r->nmembers; m++) dup |= !strcmp(r->members[m], t->users[k].name);
		if(!dup && !strncmp(t->users[k].name, prefix, n) && i-- == 0) return t->users[k].name;
	}
	for(size_t k = 0; k < t->nrooms; k++){
		if(!strncmp(t->rooms[k]->name, prefix, n) && i-- == 0) return t->rooms[k]->name;
	}
	return NULL;
}

static void complete(struct tui *t)
{
	char prefix[NAME_ROOM_MAX + 2];
	const char *match = NULL;
	size_t start = t->cursor;
	size_t plen = 0;
	int first_word;
	wchar_t tail[CHAT_LINE_MAX + 1];
	size_t ntail;
	char suffix[3] = " ";

	if(t->comp_index < 0){
		while(start > 0 && t->input[start - 1] != L' ') start--;
		if(t->cursor - start > NAME_ROOM_MAX) return;
		for(size_t i = start; i < t->cursor; i++){
			if(t->input[i] > 0x7e){
				return; /* names are ASCII */
			}
			prefix[plen++] = (char)t->input[i];
		}
		prefix[plen] = '\0';
		t->comp_start = start;
		for(size_t i = 0; i <= plen; i++) t->comp_prefix[i] = (wchar_t)(unsigned char)prefix[i];
		t->comp_index = 0;
	}else{
		start = t->comp_start;
		for(plen = 0; t->comp_prefix[plen]; plen++) prefix[plen] = (char)t->comp_prefix[plen];
		prefix[plen] = '\0';
		t->comp_index++;
	}
	first_word = start == 0;
	match = candidate(t, prefix, first_word, t->comp_index);
	if(!match && t->comp_index > 0){
		t->comp_index = 0; /* cycle */
		match = candidate(t, prefix, first_word, 0);
	}
	if(!match){
		beep();
		t->comp_index = -1;
		return;
	}
	if(first_word && match[0] != '/') snprintf(suffix, sizeof(suffix), ": ");
	/* Replace [start, cursor) with match and suffix, keeping the tail. */
	ntail = t->input_len - t->cursor;
	memcpy(tail, t->input + t->cursor, ntail * sizeof(wchar_t));
	t->input_len = start;
	for(const char *p = match; *p && t->input_len < CHAT_LINE_MAX; p++) t->input[t->input_len++] = (wchar_t)*p;
	for(const char *p = suffix; *p && t->input_len < CHAT_LINE_MAX; p++) t->input[t->input_len++] = (wchar_t)*p;
	t->cursor = t->input_len;
	if(t->input_len + ntail > CHAT_LINE_MAX) ntail = CHAT_LINE_MAX - t->input_len;
	memcpy(t->input + t->input_len, tail, ntail * sizeof(wchar_t));
	t->input_len += ntail;
}

static void page_up(struct tui *t)
{
	static char buf[CHAT_LINE_MAX * 2 + 256];
	struct room *r = cur(t);
	int width = COLS >= SIDES_MIN_COLS ? COLS - ROOMS_W - MEMBERS_W - 3 : COLS;
	int page = LINES - 3 > 1 ? LINES - 3 : 1;
	int total = 0;
	long oldest = 0;

	if(!r || width < 10) return;
	for(size_t i = 0; i < r->nlines; i++){
		total += line_rows(&r->lines[i], width, buf, sizeof(buf));
		if(r->lines[i].seq > 0 && (oldest == 0 || r->lines[i].seq < oldest)) oldest = r->lines[i].seq;
	}
	r->scroll += page;
	if(r->scroll > total - (LINES - 2)) r->scroll = total - (LINES - 2) > 0 ? total - (LINES - 2) : 0;
	/* At the top: older messages from history-svc. */
	if(r->scroll + (LINES - 2) >= total && !r->loading_older && !r->at_start && oldest != 1){
		r->loading_older = 1;
		chat_net_history(t->net, r->name, HISTORY_PAGE, oldest);
	}
}

static void key(struct tui *t, wint_t k, int is_key)
{
	if(!(is_key == KEY_CODE_YES) && k == L'\t'){
		complete(t);
		return;
	}
	t->comp_index = -1;
	if(is_key == KEY_CODE_YES){
		struct room *r = cur(t);

		switch(k){
		case KEY_ENTER: submit(t); break;
		case KEY_BACKSPACE:
			if(t->cursor > 0){
				memmove(t->input + t->cursor - 1, t->input + t->cursor, (t->input_len - t->cursor) * sizeof(wchar_t));
				t->cursor--;
				t->input_len--;
			}
			break;
		case KEY_DC:
			if(t->cursor < t->input_len){
				memmove(t->input + t->cursor, t->input + t->cursor + 1, (t->input_len - t->cursor - 1) * sizeof(wchar_t));
				t->input_len--;
			}
			break;
		case KEY_LEFT: if(t->cursor > 0) t->cursor--; break;
		case KEY_RIGHT: if(t->cursor < t->input_len) t->cursor++; break;
		case KEY_HOME: t->cursor = 0; break;
		case KEY_END: t->cursor = t->input_len; break;
		case KEY_UP:
			if(t->history_pos > 0) input_set(t, t->history[--t->history_pos]);
			break;
		case KEY_DOWN:
			if(t->history_pos < t->nhistory) t->history_pos++;
			if(t->history_pos < t->nhistory) input_set(t, t->history[t->history_pos]);
			else t->input_len = t->cursor = 0;
			break;
		case KEY_PPAGE: page_up(t); break;
		case KEY_NPAGE:
			if(r) r->scroll = r->scroll > LINES - 3 ? r->scroll - (LINES - 3) : 0;
			break;
		case KEY_RESIZE: break;
		default: break;
		}
		return;
	}
	switch(k){
	case L'\r':
	case L'\n': submit(t); return;
	case 127:
	case 8: key(t, KEY_BACKSPACE, KEY_CODE_YES); return;
	case 1: t->cursor = 0; return;                         /* Ctrl-A */
	case 5: t->cursor = t->input_len; return;              /* Ctrl-E */
	case 21: t->input_len = t->cursor = 0; return;         /* Ctrl-U */
	case 12: clearok(stdscr, TRUE); return;                /* Ctrl-L */
	case 4:                                                /* Ctrl-D */
		if(t->input_len == 0) t->quit = 1;
		return;
	case 14:                                               /* Ctrl-N */
	case 16:                                               /* Ctrl-P */
		if(t->nrooms > 0){
			size_t next = k == 14 ? (t->current + 1) % t->nrooms : (t->current + t->nrooms - 1) % t->nrooms;

			switch_to(t, t->rooms[next]);
		}
		return;
	default: break;
	}
	if(k < 0x20 || t->input_len >= CHAT_LINE_MAX) return;
	memmove(t->input + t->cursor + 1, t->input + t->cursor, (t->input_len - t->cursor) * sizeof(wchar_t));
	t->input[t->cursor++] = (wchar_t)k;
	t->input_len++;
	if(t->input[0] != L'/' && time(NULL) - t->typing_sent >= TYPING_SEND_S){
		t->typing_sent = time(NULL);
		chat_net_typing(t->net);
	}
}

static void read_keys(struct tui *t)
{
	wint_t k;
	int r;

	while((r = get_wch(&k)) != ERR && !t->quit) key(t, k, r);
}

/* ---- the session ---- */

static int get_flag(struct tui *t, const int *flag)
{
	int v;

	pthread_mutex_lock(&t->lock);
	v = *flag;
	pthread_mutex_unlock(&t->lock);
	return v;
}

/* Waits up to timeout_ms for the wake pipe, a signal or a key. Returns
 * the signal number (SIGINT, SIGTERM, SIGWINCH) or 0; *input is set when
 * the terminal has input. */
static int wait_for(struct tui *t, int sfd, int timeout_ms, int *input)
{
	struct pollfd fds[3] = {
		{ .fd = t->wake[0], .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	int sig = 0;

	*input = 0;
	if(poll(fds, 3, timeout_ms) <= 0) return 0;
	if(fds[0].revents){
		char buf[64];

		while(read(t->wake[0], buf, sizeof(buf)) > 0){
		}
	}
	if(fds[1].revents){
		struct signalfd_siginfo si;

		while(read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)){
			if(sig != SIGINT && sig != SIGTERM) sig = (int)si.ssi_signo;
		}
	}
	if(fds[2].revents) *input = 1;
	return sig;
}

static void resize(void)
{
	struct winsize ws;

	if(ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0){
		resizeterm(ws.ws_row, ws.ws_col);
	}
}

static void tui_free(struct tui *t)
{
	struct qev *q = t->head;

	while(q){
		struct qev *next = q->next;

		qev_free(q);
		q = next;
	}
	t->head = t->tail = NULL;
	for(size_t i = 0; i < t->nrooms; i++) room_free(t->rooms[i]);
	t->nrooms = 0;
	for(size_t i = 0; i < t->nhistory; i++) free(t->history[i]);
	t->nhistory = 0;
}

/* Runs one full-screen session with opts; returns the exit status (0
 * done, 1 failure, 2 login refused). Everything it creates is freed here
 * and the terminal is restored on every path. */
int chat_tui_run(const struct chat_net_opts *opts)
{
	static struct tui t;
	long long deadline;
	int have_lock = 0;
	int screen = 0;
	int signalled = 0;
	int sfd = -1;
	int fatal = 0;
	int rc = 1;

	memset(&t, 0, sizeof(t));
	t.wake[0] = t.wake[1] = -1;
	t.comp_index = -1;
	if(pthread_mutex_init(&t.lock, NULL)){
		fprintf(stderr, "chat: cannot create a mutex\n");
		goto out;
	}
	have_lock = 1;
	if(pipe2(t.wake, O_CLOEXEC | O_NONBLOCK)){
		fprintf(stderr, "chat: pipe: %s\n", strerror(errno));
		goto out;
	}
	sfd = chat_signalfd_open(SIGWINCH);
	if(sfd < 0) goto out;
	setlocale(LC_ALL, "");

	t.net = chat_net_new(opts, on_event, &t);
	if(!t.net) goto out;
	if(!initscr()){
		fprintf(stderr, "chat: cannot start the full-screen mode (try --plain)\n");
		goto out;
	}
	screen = 1;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	room_get(&t, opts->room, 1);
	t.current = 0;
	if(chat_net_start(t.net)) goto out;

	while(!t.quit){
		int input = 0;
		int sig;

		if(get_flag(&t, &t.fatal)) break;
		drain_events(&t);
		if(t.online && time(NULL) - t.rooms_polled >= ROOMS_POLL_S){
			t.rooms_polled = time(NULL);
			chat_net_rooms(t.net);
		}
		redraw(&t);
		sig = wait_for(&t, sfd, 1000, &input);
		if(sig == SIGINT || sig == SIGTERM){
			signalled = 1;
			break;
		}
		if(sig == SIGWINCH) resize();
		if(input) read_keys(&t);
	}
	fatal = get_flag(&t, &t.fatal);
	if(!signalled && !fatal){
		/* Give what was typed a moment to reach the broker. */
		deadline = clock_mono_ms() + DRAIN_MS;
		while(chat_net_pending(t.net) > 0 && clock_mono_ms() < deadline){
			int input;

			if(wait_for(&t, sfd, 100, &input) == SIGINT) break;
		}
	}
	endwin();
	screen = 0;
	chat_net_stop(t.net, signalled || fatal ? 0 : 1000);
	deadline = clock_mono_ms() + CLOSE_MS;
	while(!get_flag(&t, &t.closed) && clock_mono_ms() < deadline){
		int input;

		if(wait_for(&t, sfd, (int)(deadline - clock_mono_ms()), &input) == SIGINT) break;
	}
	if(fatal == 2) fprintf(stderr, "chat: the broker refused the login (wrong user name or password?)\n");
	else if(fatal) fprintf(stderr, "chat: the broker refused the connection\n");
	rc = fatal;
out:
	if(screen) endwin();
	/* Paho may still call back while it is destroyed: t lives until then. */
	chat_net_free(t.net);
	t.net = NULL;
	tui_free(&t);
	if(sfd >= 0) close(sfd);
	if(t.wake[0] >= 0) close(t.wake[0]);
	if(t.wake[1] >= 0) close(t.wake[1]);
	if(have_lock) pthread_mutex_destroy(&t.lock);
	return rc;
}
