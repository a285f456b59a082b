/* chat_tui_model.c: the model of chat's full-screen front end: rooms with
 * their lines (messages, information, errors), unread counts and read
 * marker, members and typing users; users with their presence. Events
 * from the session change it (model__apply), and the answers to /who,
 * /rooms and /history are printed into the message pane as lines. Main
 * thread only; see chat_tui_int.h. */
#include "chat_tui_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_cmd.h"

struct room *model__cur(struct tui *t)
{
	return t->current < t->nrooms ? t->rooms[t->current] : NULL;
}

struct room *model__room_get(struct tui *t, const char *name, int create)
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
	ops__line_clear(l);
}

static void room_free(struct room *r)
{
	if(!r) return;
	for(size_t i = 0; i < r->nlines; i++) line_clear(&r->lines[i]);
	for(size_t i = 0; i < r->nbatch; i++) line_clear(&r->batch[i]);
	free(r->lines);
	free(r->batch);
	free(r->topic);
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
void model__room_label(const struct room *r, char *buf, size_t len)
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

/* Appends a line to r; returns it (valid until the next change of r's
 * lines), or NULL. */
static struct line *room_append(struct room *r, enum line_kind kind, long seq, const char *ts,
		const char *sender, const char *id, const char *text)
{
	struct line *l = NULL;

	if(!r || room_reserve(r, 1)) return NULL;
	if(line_fill(&r->lines[r->nlines], kind, seq, ts, sender, id, text)) return NULL;
	r->nlines++;
	if(r->scroll > 0) r->scroll++; /* keep the view where the reader is */
	room_trim(r);
	l = &r->lines[r->nlines - 1];
	return l;
}

/* An information or error line of printf-formatted text in room r. */
static void room_line_printf(struct room *r, enum line_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void room_line_printf(struct room *r, enum line_kind kind, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	room_append(r, kind, 0, NULL, NULL, NULL, text);
}

/* An information or error line in the current room (or the first). */
static void info(struct tui *t, enum line_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void info(struct tui *t, enum line_kind kind, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	struct room *r = model__cur(t);

	if(!r && t->nrooms) r = t->rooms[0];
	if(!r) r = model__room_get(t, "lobby", 0);
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if(r) room_append(r, kind, 0, NULL, NULL, NULL, text);
}

struct user *model__user_get(struct tui *t, const char *name, int create)
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
void model__switch_to(struct tui *t, struct room *r)
{
	struct room *old = model__cur(t);

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
	r->mentions = 0;
	chat_net_switch(t->net, r->name);
	if(!r->loaded && !r->loading_older && t->online){
		r->loading_older = 1;
		chat_net_history(t->net, r->name, HISTORY_PAGE, 0, 0);
	}
	if(t->online) chat_net_roster(t->net, r->name, 0);
	chat_net_mark_read(t->net, r->name);
}

/* Follows what the network side says: the rooms it follows and which is
 * current (after /join, /leave, /msg replies). */
void model__sync_rooms(struct tui *t)
{
	char names[CHAT_ROOMS_MAX][NAME_ROOM_MAX + 1];
	char current[NAME_ROOM_MAX + 1];
	struct room *r = NULL;
	size_t n = chat_net_rooms_list(t->net, names, CHAT_ROOMS_MAX, current, sizeof(current));

	for(size_t i = 0; i < n; i++) model__room_get(t, names[i], 1);
	r = model__room_get(t, current, 0);
	if(r && r != model__cur(t)) model__switch_to(t, r);
}

/* Moves the text and operation state of from into to (from keeps its
 * own until cleared). */
static void line_take_state(struct line *to, struct line *from)
{
	char *text = from->text;
	char *reactions = from->reactions;

	if(!to->seq) to->seq = from->seq;
	from->text = to->text;
	to->text = text;
	from->reactions = to->reactions;
	to->reactions = reactions;
	to->kind = from->kind;
	to->reply_to = from->reply_to;
	to->thread = from->thread;
	to->replies = from->replies;
	to->edited = from->edited;
	memcpy(to->deleted_by, from->deleted_by, sizeof(to->deleted_by));
}

static void history_batch_commit(struct room *r, long tag)
{
	size_t keep = 0;

	/* Drop what is shown already (a message seen live, or twice asked). */
	for(size_t i = 0; i < r->nbatch; i++){
		if(room_has(r, r->batch[i].sender, r->batch[i].id)){
			/* Shown already: the archive's state is the current one. */
			struct line *old = ops__find(r, r->batch[i].sender, r->batch[i].id, 0);

			if(old) line_take_state(old, &r->batch[i]);
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
}

static void history_batch_add(struct room *r, const struct chat_event *ev)
{
	struct line *grown = NULL;

	if(ev->op_kind && strcmp(ev->op_kind, "message")) return; /* messages come in their current state */
	if(r->nbatch == r->batch_cap){
		size_t cap = r->batch_cap ? r->batch_cap * 2 : 64;

		grown = realloc(r->batch, cap * sizeof(*grown));
		if(!grown) return;
		r->batch = grown;
		r->batch_cap = cap;
	}
	if(!line_fill(&r->batch[r->nbatch], LINE_MSG, ev->seq, ev->ts, ev->user, ev->id, ev->body)){
		ops__line_state(&r->batch[r->nbatch], ev);
		r->nbatch++;
	}
}

int model__mentions(const char *body, const char *user)
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

/* A message of a /history reply, kept until the reply is complete. */
static void asked_history_add(struct tui *t, const struct chat_event *ev)
{
	struct line *grown = NULL;

	if(t->nasked == t->asked_cap){
		size_t cap = t->asked_cap ? t->asked_cap * 2 : 64;

		grown = realloc(t->asked, cap * sizeof(*grown));
		if(!grown) return;
		t->asked = grown;
		t->asked_cap = cap;
	}
	if(ev->op_kind && strcmp(ev->op_kind, "message")){
		/* An event: one information line, "[13] alice: edit of [10] new text". */
		char text[512];
		char ref[32] = "";
		const char *arg = ev->reaction ? ev->reaction : ev->text;

		if(ev->ref) snprintf(ref, sizeof(ref), " of [%ld]", ev->ref);
		snprintf(text, sizeof(text), "[%ld] %s: %s%s%s%s", ev->seq, ev->user, ev->op_kind, ref, arg ? " " : "",
				arg ? arg : "");
		if(!line_fill(&t->asked[t->nasked], LINE_INFO, 0, ev->ts, NULL, NULL, text)) t->nasked++;
		return;
	}
	/* No id: a copy printed for the reader, not the room's own line. */
	if(!line_fill(&t->asked[t->nasked], LINE_MSG, ev->seq, ev->ts, ev->user, NULL, ev->body)){
		ops__line_state(&t->asked[t->nasked], ev);
		t->nasked++;
	}
}

/* The end of a /history reply: prints its messages in the room it is
 * about (else the current one) between a header and an end line. */
static void asked_history_print(struct tui *t, const struct chat_event *ev)
{
	struct room *r = model__room_get(t, ev->room, 0);
	char label[NAME_ROOM_MAX + 2];
	const char *s = t->nasked == 1 ? "" : "s";

	if(!r) r = model__cur(t);
	if(r) model__room_label(r, label, sizeof(label));
	else snprintf(label, sizeof(label), "#%s", ev->room ? ev->room : "?");
	if(t->nasked == 0){
		info(t, LINE_INFO, "no messages in %s", label);
	}else if(r){
		if(ev->tag == CHAT_TAG_THREAD){
			room_line_printf(r, LINE_INFO, "a thread of %s (%zu message%s; lines you type go to it, /thread "
					"alone leaves it):", label, t->nasked, s);
		}else{
			room_line_printf(r, LINE_INFO, ev->tag == CHAT_TAG_SHOW_NEWEST ? "the last %zu message%s of %s:"
					: "%zu older message%s of %s:", t->nasked, s, label);
		}
		for(size_t i = 0; i < t->nasked && !room_reserve(r, 1); i++){
			/* The room's line owns text and reactions from here on. */
			r->lines[r->nlines++] = t->asked[i];
			t->asked[i].text = NULL;
			t->asked[i].reactions = NULL;
			if(r->scroll > 0) r->scroll++;
		}
		room_line_printf(r, LINE_INFO, "end of history of %s (%zu message%s)", label, t->nasked, s);
		room_trim(r);
	}
	for(size_t i = 0; i < t->nasked; i++) line_clear(&t->asked[i]);
	t->nasked = 0;
}

/* The end of a /who reply: the members with their presence. */
static void who_print(struct tui *t, const struct chat_event *ev)
{
	info(t, LINE_INFO, "members of #%s (%zu):", ev->room ? ev->room : "?", t->nwho);
	for(size_t i = 0; i < t->nwho; i++){
		const struct user *u = model__user_get(t, t->who[i], 0);

		info(t, LINE_INFO, "  %s: %s%s%s%s", t->who[i], u ? u->state : "offline", u && u->text[0] ? " (" : "",
				u ? u->text : "", u && u->text[0] ? ")" : "");
	}
	t->nwho = 0;
}

/* Whether a mentions list ("a,b") names me. */
static int mentions_me(const char *mentions, const char *me)
{
	size_t n = strlen(me);

	for(const char *p = mentions; p && *p;){
		if(!strncmp(p, me, n) && (p[n] == ',' || !p[n])) return 1;
		p = strchr(p, ',');
		if(p) p++;
	}
	return 0;
}

/* A message event's line, with its state; a thread reply counts at its root. */
static void msg_append(struct room *r, const struct chat_event *ev)
{
	struct line *l = room_append(r, LINE_MSG, ev->seq, ev->ts, ev->user, ev->id, ev->body);
	struct line *root = NULL;

	if(!l) return;
	ops__line_state(l, ev);
	if(ev->thread > 0 && (root = ops__find(r, NULL, NULL, ev->thread)) != NULL) root->replies++;
}

/* Events of message operations (chat_tui_ops.c does the lines). */
static void apply_ops_event(struct tui *t, const struct chat_event *ev, const char *me)
{
	struct room *r = model__room_get(t, ev->room, 0);
	struct line *l = NULL;
	char label[NAME_ROOM_MAX + 2] = "";

	if(r) model__room_label(r, label, sizeof(label));
	switch(ev->kind){
	case CHAT_EV_OP:
		if(!r) break;
		if(ops__apply(r, ev) && ev->op_kind && !strcmp(ev->op_kind, "topic")){
			room_line_printf(r, LINE_INFO, "%s %s the topic%s%s", ev->user, r->topic ? "set" : "cleared",
					r->topic ? ": " : "", r->topic ? r->topic : "");
		}
		break;
	case CHAT_EV_SEQ:
		if(r && (l = ops__find(r, ev->user, ev->id, 0)) != NULL) l->seq = ev->seq;
		break;
	case CHAT_EV_RECEIPT:
		if(r && (!ev->op_kind || !strcmp(ev->op_kind, "message")) && (l = ops__find(r, me, ev->id, 0)) != NULL){
			l->seq = ev->seq;
		}
		break;
	case CHAT_EV_MENTION:
		/* Counted with its message (a followed room's messages all come
		 * here, live or caught up): this notice only tells where. */
		if(r && r != model__cur(t)){
			r->mention = 1;
			info(t, LINE_INFO, "%s mentioned you in %s: %s", ev->user, label, ev->body ? ev->body : "");
		}
		break;
	case CHAT_EV_ITEM:
		if(ev->op && !strcmp(ev->op, "search")){
			info(t, LINE_INFO, "#%s [%ld] <%s> %s", ev->room ? ev->room : "?", ev->seq, ev->user, ev->body ? ev->body : "");
		}else if(ev->op && !strcmp(ev->op, "bans")){
			info(t, LINE_INFO, "  banned: %s (by %s)", ev->user, ev->text ? ev->text : "?");
		}else{
			info(t, LINE_INFO, "  %s has read up to [%ld]", ev->user, ev->seq);
			if(r) ops__reader_set(r, ev->user, ev->seq, me);
		}
		break;
	case CHAT_EV_READ:
		if(r) ops__reader_set(r, ev->user, ev->seq, me);
		break;
	case CHAT_EV_ITEMS_END:
		if(ev->op && !strcmp(ev->op, "search")){
			info(t, LINE_INFO, "%ld found%s", ev->count, ev->text ? " (/more: the next page)" : "");
			break;
		}
		info(t, LINE_INFO, "%ld %s%s", ev->count, ev->op && !strcmp(ev->op, "bans") ? "banned in " :
				"members share how far they read in ", label);
		break;
	default:
		break;
	}
}

static void on_connected(struct tui *t)
{
	struct room *r = model__cur(t);

	t->online = 1;
	t->retry_attempt = 0;
	t->status_note[0] = '\0';
	if(!t->ever_connected){
		t->ever_connected = 1;
		chat_net_rooms(t->net, 0); /* all our rooms, with unread counts */
		t->rooms_polled = time(NULL);
		if(r){
			r->loading_older = 1;
			chat_net_history(t->net, r->name, HISTORY_PAGE, 0, 0);
			chat_net_roster(t->net, r->name, 0);
		}
	}else{
		info(t, LINE_INFO, "connected again; fetching what was missed");
		if(r) chat_net_roster(t->net, r->name, 0);
	}
}

void model__apply(struct tui *t, const struct chat_event *ev)
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
		r = model__room_get(t, ev->room, 1);
		if(!r || room_has(r, ev->user, ev->id)) break;
		msg_append(r, ev);
		member_add(r, ev->user);
		typing_set(r, ev->user, 0);
		if(r != model__cur(t) && strcmp(ev->user, me)){
			r->unread++;
			if(model__mentions(ev->body, me) || r->with[0]) r->mention = 1;
			if(mentions_me(ev->mentions, me)) r->mentions++;
		}else if(r == model__cur(t)){
			chat_net_mark_read(t->net, r->name);
		}
		break;
	case CHAT_EV_OP:
	case CHAT_EV_SEQ:
	case CHAT_EV_MENTION:
	case CHAT_EV_ITEM:
	case CHAT_EV_ITEMS_END:
	case CHAT_EV_READ:
		apply_ops_event(t, ev, me);
		break;
	case CHAT_EV_RECEIPT:
		apply_ops_event(t, ev, me);
		r = model__room_get(t, ev->room, 0);
		if(r == model__cur(t) && r) chat_net_mark_read(t->net, r->name);
		break;
	case CHAT_EV_HISTORY:
		if(ev->tag == CHAT_TAG_SHOW_NEWEST || ev->tag == CHAT_TAG_SHOW_OLDER || ev->tag == CHAT_TAG_THREAD){
			asked_history_add(t, ev);
			break;
		}
		r = model__room_get(t, ev->room, 0);
		if(r) history_batch_add(r, ev);
		break;
	case CHAT_EV_HISTORY_END:
		if(ev->tag == CHAT_TAG_SHOW_NEWEST || ev->tag == CHAT_TAG_SHOW_OLDER || ev->tag == CHAT_TAG_THREAD){
			asked_history_print(t, ev);
			break;
		}
		r = model__room_get(t, ev->room, 0);
		if(r) history_batch_commit(r, ev->tag);
		if(r && r == model__cur(t)) chat_net_mark_read(t->net, r->name);
		break;
	case CHAT_EV_ROOM:
		r = model__room_get(t, ev->room, 1);
		if(!r) break;
		if(ev->user) snprintf(r->with, sizeof(r->with), "%s", ev->user);
		free(r->topic);
		r->topic = ev->text && *ev->text ? strdup(ev->text) : NULL;
		if(r != model__cur(t)){
			r->unread = ev->unread;
			r->mentions = ev->count;
		}
		else chat_net_mark_read(t->net, r->name); /* its last seq may be known now */
		chat_net_track(t->net, r->name, 0);
		if(!r->loaded && !r->loading_older){
			r->loading_older = 1;
			chat_net_history(t->net, r->name, HISTORY_PAGE, 0, 0);
		}
		if(ev->tag == CHAT_TAG_NONE){
			char label[NAME_ROOM_MAX + 2];

			model__room_label(r, label, sizeof(label));
			info(t, LINE_INFO, "  %s: %ld messages, %ld unread", label, ev->seq, r == model__cur(t) ? 0 : ev->unread);
		}
		break;
	case CHAT_EV_ROOMS_END:
		if(ev->tag == CHAT_TAG_NONE){
			info(t, LINE_INFO, "%ld room%s (/room ROOM to switch)", ev->count, ev->count == 1 ? "" : "s");
		}
		break;
	case CHAT_EV_PRESENCE:
		u = model__user_get(t, ev->user, 1);
		if(!u) break;
		if(strcmp(u->state, ev->state) || strcmp(u->text, ev->text ? ev->text : "")){
			/* The retained states the broker sends on subscribing are
			 * not news (the retain flag says which; a clock would
			 * guess wrong when a change follows the connect). */
			if(!ev->retained && strcmp(ev->user, me)
					&& (strcmp(u->state, "offline") || strcmp(ev->state, "offline"))){
				struct room *c = model__cur(t);
				int member = 0;

				for(size_t i = 0; c && i < c->nmembers; i++) member |= !strcmp(c->members[i], ev->user);
				info(t, LINE_INFO, "%s is %s%s%s", ev->user, ev->state, ev->text ? ": " : "",
						ev->text ? ev->text : "");
				/* Someone new may have joined: ask for the members again. */
				if(c && !member && t->online) chat_net_roster(t->net, c->name, 0);
			}
			snprintf(u->state, sizeof(u->state), "%s", ev->state);
			snprintf(u->text, sizeof(u->text), "%s", ev->text ? ev->text : "");
		}
		break;
	case CHAT_EV_ERROR:
		if(ev->room && ev->op && !strcmp(ev->op, "history") && (ev->tag == CHAT_TAG_NEWEST || ev->tag == CHAT_TAG_OLDER)){
			r = model__room_get(t, ev->room, 0);
			if(r) r->loading_older = 0;
		}
		/* No roster from presence-svc for the side list: its members
		 * come from messages; only a /who hears of it. */
		if(ev->op && !strcmp(ev->op, "roster") && ev->tag == CHAT_TAG_QUIET) break;
		info(t, LINE_ERROR, "%s%s%s: %s", ev->code ? ev->code : "error", ev->room ? " in " : "",
				ev->room ? ev->room : "", ev->text && *ev->text ? ev->text : "(no details)");
		break;
	case CHAT_EV_HELP:
		info(t, LINE_INFO, "%s", ev->text ? ev->text : "");
		break;
	case CHAT_EV_REPLY:
		if(!ev->op) break;
		if(!strcmp(ev->op, "dm") && ev->room && ev->user){
			r = model__room_get(t, ev->room, 1);
			if(r) snprintf(r->with, sizeof(r->with), "%s", ev->user);
		}else if(!strcmp(ev->op, "leave") && ev->room){
			room_remove(t, ev->room);
			/* The note goes where the reader is now: the room the
			 * network side made current, not the next in the list. */
			model__sync_rooms(t);
			info(t, LINE_INFO, "you left %s", ev->room);
		}else if(!strcmp(ev->op, "status")){
			info(t, LINE_INFO, "you are %s%s%s", ev->state ? ev->state : "?", ev->text ? ": " : "",
					ev->text ? ev->text : "");
		}else if(!strcmp(ev->op, "invite") || !strcmp(ev->op, "kick")){
			info(t, LINE_INFO, "%s %s %s", ev->op, ev->user ? ev->user : "?", ev->room ? ev->room : "");
		}else if(!strcmp(ev->op, "create") && ev->room){
			info(t, LINE_INFO, "created %s", ev->room);
		}else if(!strcmp(ev->op, "revoke_token")){
			info(t, LINE_INFO, "token %s revoked", ev->id ? ev->id : "?");
		}else if(!strcmp(ev->op, "password")){
			info(t, LINE_INFO, "password changed (%ld tokens revoked)", ev->count);
		}else if(!strcmp(ev->op, "topic")){
			info(t, LINE_INFO, "topic of %s set (event [%ld])", ev->room ? ev->room : "?", ev->seq);
		}else if(!strcmp(ev->op, "role")){
			info(t, LINE_INFO, "%s is now %s of %s", ev->user ? ev->user : "?",
					ev->state && !strcmp(ev->state, "admin") ? "an admin" : "a member", ev->room ? ev->room : "?");
		}else if(!strcmp(ev->op, "ban") || !strcmp(ev->op, "unban")){
			info(t, LINE_INFO, "%sned %s in %s", ev->op, ev->user ? ev->user : "?", ev->room ? ev->room : "?");
		}else if(!strcmp(ev->op, "prefs")){
			info(t, LINE_INFO, "how far you have read is %s", ev->state && !strcmp(ev->state, "off")
					? "not shared (/share-read on shares it)" : "shared with the members of your rooms");
		}
		break;
	case CHAT_EV_TOKEN:
		info(t, LINE_INFO, "token %s \"%s\": created %s, last used %s, expires %s, scope %s", ev->id, ev->text,
				ev->ts, ev->state, ev->code, ev->body);
		break;
	case CHAT_EV_TOKENS_END:
		info(t, LINE_INFO, "%ld tokens (/revoke ID)", ev->count);
		break;
	case CHAT_EV_PUBLIC_ROOM:
		info(t, LINE_INFO, "public room #%s: %ld members, %ld messages", ev->room, ev->count, ev->seq);
		break;
	case CHAT_EV_PUBLIC_ROOMS_END:
		info(t, LINE_INFO, "%ld public rooms (/join ROOM)", ev->count);
		break;
	case CHAT_EV_MEMBER:
		if(ev->tag == CHAT_TAG_NONE && t->nwho < MEMBERS_MAX){
			snprintf(t->who[t->nwho++], sizeof(t->who[0]), "%s", ev->user);
		}
		r = model__room_get(t, ev->room, 0);
		if(r && r->nnext < MEMBERS_MAX) snprintf(r->next_members[r->nnext++], sizeof(r->members[0]), "%s", ev->user);
		u = model__user_get(t, ev->user, 1);
		if(u){
			snprintf(u->state, sizeof(u->state), "%s", ev->state);
			snprintf(u->text, sizeof(u->text), "%s", ev->text ? ev->text : "");
		}
		break;
	case CHAT_EV_MEMBERS_END:
		if(ev->tag == CHAT_TAG_NONE) who_print(t, ev);
		r = model__room_get(t, ev->room, 0);
		if(!r) break;
		memcpy(r->members, r->next_members, r->nnext * sizeof(r->members[0]));
		r->nmembers = r->nnext;
		r->nnext = 0;
		break;
	case CHAT_EV_TYPING:
		r = model__room_get(t, ev->room, 0);
		if(r && strcmp(ev->user, me)) typing_set(r, ev->user, !strcmp(ev->state, "on"));
		break;
	default:
		break;
	}
}

/* Applies every queued event; returns 1 when there were any. */

void model__free(struct tui *t)
{
	for(size_t i = 0; i < t->nrooms; i++) room_free(t->rooms[i]);
	t->nrooms = 0;
	for(size_t i = 0; i < t->nhistory; i++) free(t->history[i]);
	t->nhistory = 0;
	for(size_t i = 0; i < t->nasked; i++) line_clear(&t->asked[i]);
	free(t->asked);
	t->asked = NULL;
	t->nasked = t->asked_cap = 0;
}
