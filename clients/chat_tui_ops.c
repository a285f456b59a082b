/* chat_tui_ops.c: message operations in chat's full-screen model (docs/
 * CLIENT.md, MESSAGE OPERATIONS): a line learns its seq, its text changes
 * with an edit, becomes a tombstone with a delete, gathers reactions; a
 * reply shows one row of the message it quotes, a thread root its reply
 * count. The network side has applied the live rule already: what comes
 * here is to be shown. Main thread only; see chat_tui_int.h. */
#include "chat_tui_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_cmd.h"

#define QUOTE_BYTES 60          /* of the quoted message's first row */
#define SEEN_NAMES 5            /* readers named in "seen by"; more are counted */

struct line *ops__find(struct room *r, const char *sender, const char *id, long seq)
{
	for(size_t i = r->nlines; i-- > 0;){
		struct line *l = &r->lines[i];

		if(l->kind != LINE_MSG && l->kind != LINE_EMOTE) continue;
		if(id ? (!strcmp(l->id, id) && !strcmp(l->sender, sender)) : l->seq == seq) return l;
	}
	return NULL;
}

void ops__line_clear(struct line *l)
{
	free(l->reactions);
	l->reactions = NULL;
}

void ops__line_state(struct line *l, const struct chat_event *ev)
{
	l->reply_to = ev->reply_to;
	l->thread = ev->thread;
	l->replies = ev->replies;
	l->edited = ev->edited != NULL;
	snprintf(l->deleted_by, sizeof(l->deleted_by), "%s", ev->deleted_by ? ev->deleted_by : "");
	free(l->reactions);
	l->reactions = ev->reactions && *ev->reactions ? strdup(ev->reactions) : NULL;
}

/* Appends printf-formatted text to buf (len bytes, *used so far). */
static void add(char *buf, size_t len, size_t *used, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void add(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	if(*used >= len) return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *used, len - *used, fmt, ap);
	va_end(ap);
	if(n > 0) *used += (size_t)n;
	if(*used >= len) *used = len - 1;
}

/* "👍 3 (alice, bob)  🎉 1 (carol)" from "R:COUNT:users ..." */
static void reactions_text(const char *reactions, char *buf, size_t len, size_t *used)
{
	char copy[1024];
	char *save = NULL;

	snprintf(copy, sizeof(copy), "%s", reactions);
	for(char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)){
		char *users = strrchr(tok, ':');
		char *count = NULL;

		if(!users) continue;
		*users++ = '\0';
		count = strrchr(tok, ':');
		if(!count) continue;
		*count++ = '\0';
		add(buf, len, used, "  %s %s", tok, count);
		if(*users) add(buf, len, used, " (%s)", users);
	}
}

/* "seen by bob, carol" (and "+N" past SEEN_NAMES): the members whose
 * read marker is at seq or past it; nothing when none is. */
static void seen_text(const struct room *r, long seq, char *buf, size_t len, size_t *used)
{
	size_t named = 0, more = 0;

	for(size_t i = 0; i < r->nreaders; i++){
		if(r->readers[i].seq < seq) continue;
		if(named == SEEN_NAMES){
			more++;
			continue;
		}
		add(buf, len, used, "%s%s", named ? ", " : "\n      seen by ", r->readers[i].user);
		named++;
	}
	if(more) add(buf, len, used, " +%zu", more);
}

void ops__line_text(const struct room *r, const struct line *l, char *buf, size_t len)
{
	char seq[24] = "";
	size_t used = 0;

	buf[0] = '\0';
	if(l->seq > 0) snprintf(seq, sizeof(seq), "[%ld] ", l->seq);
	if(l->reply_to > 0){
		const struct line *q = NULL;

		for(size_t i = r ? r->nlines : 0; i-- > 0 && !q;){
			if(r->lines[i].seq == l->reply_to && (r->lines[i].kind == LINE_MSG || r->lines[i].kind == LINE_EMOTE)) q = &r->lines[i];
		}
		if(q && q->deleted_by[0]){
			add(buf, len, &used, "   > [%ld] <%s> (deleted)\n", q->seq, q->sender);
		}else if(q){
			size_t n = strcspn(q->text, "\n");

			if(n > QUOTE_BYTES) n = QUOTE_BYTES;
			while(n > 0 && ((unsigned char)q->text[n] & 0xC0) == 0x80) n--; /* not inside a character */
			add(buf, len, &used, "   > [%ld] <%s> %.*s%s\n", q->seq, q->sender, (int)n, q->text, q->text[n] ? "..." : "");
		}else{
			add(buf, len, &used, "   > [%ld]\n", l->reply_to);
		}
	}
	if(l->deleted_by[0]){
		add(buf, len, &used, "%s %s<%s> (message deleted by %s)", l->when, seq, l->sender, l->deleted_by);
		return;
	}
	if(l->kind == LINE_EMOTE) add(buf, len, &used, "%s %s* %s %s", l->when, seq, l->sender, l->text);
	else add(buf, len, &used, "%s %s<%s> %s%s", l->when, seq, l->sender, l->thread > 0 ? "(thread) " : "", l->text);
	if(l->edited) add(buf, len, &used, " (edited)");
	if(l->reactions){
		add(buf, len, &used, "\n     ");
		reactions_text(l->reactions, buf, len, &used);
	}
	if(l->replies > 0){
		add(buf, len, &used, "\n      %ld repl%s: /thread %ld", l->replies, l->replies == 1 ? "y" : "ies", l->seq);
	}
	if(r && l->seq > 0 && l->seq == r->seen_at) seen_text(r, l->seq, buf, len, &used);
}

void ops__reader_set(struct room *r, const char *user, long seq, const char *me)
{
	size_t i = 0;

	if(!user || !strcmp(user, me)) return;
	while(i < r->nreaders && strcmp(r->readers[i].user, user)) i++;
	if(i == r->nreaders){
		if(r->nreaders == MEMBERS_MAX) return;
		snprintf(r->readers[i].user, sizeof(r->readers[i].user), "%s", user);
		r->nreaders++;
	}
	r->readers[i].seq = seq;
}

void ops__seen_mark(struct room *r, const char *me)
{
	r->seen_at = 0;
	for(size_t i = r->nlines; i-- > 0;){
		const struct line *l = &r->lines[i];

		if((l->kind == LINE_MSG || l->kind == LINE_EMOTE) && l->seq > 0 && !l->deleted_by[0] && !strcmp(l->sender, me)){
			r->seen_at = l->seq;
			return;
		}
	}
}

/* Whether the entry tok ("R:COUNT:users") is reaction; its count and
 * users into count and users (len bytes). */
static int entry_split(const char *tok, const char *reaction, long *count, char *users, size_t len)
{
	const char *u = strrchr(tok, ':');
	const char *c = NULL;

	if(!u) return 0;
	for(c = u - 1; c > tok && *c != ':'; c--){
	}
	if(c <= tok || (size_t)(c - tok) != strlen(reaction) || strncmp(tok, reaction, strlen(reaction))) return 0;
	*count = strtol(c + 1, NULL, 10);
	snprintf(users, len, "%s", u + 1);
	return 1;
}

/* users (a comma list) with user added or taken away; returns whether it
 * was there before. */
static int users_change(char *users, size_t len, const char *user, int add_it)
{
	char out[512] = "";
	char copy[512];
	char *save = NULL;
	size_t used = 0;
	int had = 0;

	snprintf(copy, sizeof(copy), "%s", users);
	for(char *u = strtok_r(copy, ",", &save); u; u = strtok_r(NULL, ",", &save)){
		if(!strcmp(u, user)){
			had = 1;
			if(!add_it) continue;
		}
		add(out, sizeof(out), &used, "%s%s", used ? "," : "", u);
	}
	if(add_it && !had) add(out, sizeof(out), &used, "%s%s", used ? "," : "", user);
	snprintf(users, len, "%s", out);
	return had;
}

int ops__reaction_change(char **reactions, const char *reaction, const char *user, int add_it)
{
	char out[1024] = "";
	char copy[1024];
	char *save = NULL;
	size_t used = 0;
	int found = 0;

	snprintf(copy, sizeof(copy), "%s", *reactions ? *reactions : "");
	for(char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)){
		char users[512];
		long count = 0;

		if(!entry_split(tok, reaction, &count, users, sizeof(users))){
			add(out, sizeof(out), &used, "%s%s", used ? " " : "", tok);
			continue;
		}
		found = 1;
		/* Names beyond the five history-svc lists are not known here:
		 * a user not named is counted as new. */
		if(users_change(users, sizeof(users), user, add_it) != add_it) count += add_it ? 1 : -1;
		if(count > 0) add(out, sizeof(out), &used, "%s%s:%ld:%s", used ? " " : "", reaction, count, users);
	}
	if(!found && add_it) add(out, sizeof(out), &used, "%s%s:1:%s", used ? " " : "", reaction, user);
	free(*reactions);
	*reactions = NULL;
	if(!out[0]) return 0;
	*reactions = strdup(out);
	return *reactions ? 0 : -1;
}

int ops__apply(struct room *r, const struct chat_event *ev)
{
	const char *kind = ev->op_kind ? ev->op_kind : "";
	struct line *l = NULL;

	if(!strcmp(kind, "topic")){
		free(r->topic);
		r->topic = ev->text && *ev->text ? strdup(ev->text) : NULL;
		return 1;
	}
	l = ops__find(r, NULL, NULL, ev->ref);
	if(!l) return 0; /* a message not shown here: its current state comes with history */
	if(!strcmp(kind, "edit") && ev->text && !l->deleted_by[0]){
		char *text = NULL;
		const char *t = ev->text;

		if(!strncmp(t, CHAT_CMD_EMOTE, strlen(CHAT_CMD_EMOTE))) t += strlen(CHAT_CMD_EMOTE);
		text = strdup(t);
		if(!text) return 0;
		free(l->text);
		l->text = text;
		l->edited = 1;
	}else if(!strcmp(kind, "delete")){
		snprintf(l->deleted_by, sizeof(l->deleted_by), "%s", ev->user);
		free(l->reactions);
		l->reactions = NULL;
		l->text[0] = '\0';
	}else if((!strcmp(kind, "react") || !strcmp(kind, "unreact")) && ev->reaction && !l->deleted_by[0]){
		ops__reaction_change(&l->reactions, ev->reaction, ev->user, !strcmp(kind, "react"));
	}else{
		return 0;
	}
	return 1;
}
