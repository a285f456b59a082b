/* chat_net_events.c: the session's way out to the front end: events,
 * errors, the --trace file; and the small helpers every part of the
 * session uses (the lock, bounded hash sets). See chat_net_int.h. */
#include "chat_net_int.h"

#include <stdlib.h>
#include <string.h>

#include "fnv.h"
#include "timefmt.h"

void net__lock(struct chat_net *net)
{
	pthread_mutex_lock(&net->lock);
}

void net__unlock(struct chat_net *net)
{
	pthread_mutex_unlock(&net->lock);
}

const char *net__strerror(int code)
{
	const char *s = MQTTAsync_strerror(code);

	return s ? s : "unknown error";
}

void net__trace(struct chat_net *net, const char *fmt, ...)
{
	char when[TIMEFMT_LEN];
	va_list ap;

	if(!net->trace) return;
	timefmt_now(when, NULL);
	flockfile(net->trace);
	fprintf(net->trace, "%s ", when);
	va_start(ap, fmt);
	vfprintf(net->trace, fmt, ap);
	va_end(ap);
	fputc('\n', net->trace);
	fflush(net->trace);
	funlockfile(net->trace);
}

static const char *const event_names[] = {
	[CHAT_EV_CONNECTED] = "connected", [CHAT_EV_DISCONNECTED] = "disconnected",
	[CHAT_EV_RECONNECTING] = "reconnecting", [CHAT_EV_MSG] = "msg", [CHAT_EV_RECEIPT] = "receipt",
	[CHAT_EV_HISTORY] = "history", [CHAT_EV_HISTORY_END] = "history-end", [CHAT_EV_ROOM] = "room",
	[CHAT_EV_ROOMS_END] = "rooms-end", [CHAT_EV_PRESENCE] = "presence", [CHAT_EV_ERROR] = "error",
	[CHAT_EV_BAD_PAYLOAD] = "bad-payload", [CHAT_EV_NOTE] = "note", [CHAT_EV_HELP] = "help",
	[CHAT_EV_SENT] = "sent", [CHAT_EV_CLOSED] = "closed", [CHAT_EV_REPLY] = "reply",
	[CHAT_EV_PUBLIC_ROOM] = "public-room", [CHAT_EV_PUBLIC_ROOMS_END] = "public-rooms-end",
	[CHAT_EV_MEMBER] = "member", [CHAT_EV_MEMBERS_END] = "members-end", [CHAT_EV_TYPING] = "typing",
	[CHAT_EV_TOKEN] = "token", [CHAT_EV_TOKENS_END] = "tokens-end",
	[CHAT_EV_OP] = "op", [CHAT_EV_SEQ] = "seq", [CHAT_EV_MENTION] = "mention", [CHAT_EV_READ] = "read",
	[CHAT_EV_ITEM] = "item", [CHAT_EV_ITEMS_END] = "items-end",
};

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

/* Passes ev (owned by the caller) to the front end's emit function, and
 * to the trace. */
void chat_net_emit(struct chat_net *net, const struct chat_event *ev)
{
	if(net->trace){
		size_t k = (size_t)ev->kind;
		const char *name = k < sizeof(event_names) / sizeof(event_names[0]) && event_names[k] ? event_names[k] : "?";

		net__trace(net, "event %s room=%s user=%s id=%s op=%s code=%s state=%s seq=%ld count=%ld tag=%ld%s text=%s",
				name, or_dash(ev->room), or_dash(ev->user), or_dash(ev->id), or_dash(ev->op), or_dash(ev->code),
				or_dash(ev->state), ev->seq, ev->count, ev->tag, ev->retained ? " retained" : "", or_dash(ev->text));
	}
	net->emit(net->ctx, ev);
}

void net__emit_kind(struct chat_net *net, enum chat_event_kind kind, const char *text)
{
	struct chat_event ev = { .kind = kind, .text = text };

	chat_net_emit(net, &ev);
}

static void verror(struct chat_net *net, int fatal, const char *code, const char *fmt, va_list ap)
{
	struct chat_event ev = { .kind = CHAT_EV_ERROR, .code = code, .fatal = fatal };
	char text[NET_TEXT_MAX];

	vsnprintf(text, sizeof(text), fmt, ap);
	ev.text = text;
	chat_net_emit(net, &ev);
}

/* Emits an error event with code and the formatted text. */
void chat_net_error(struct chat_net *net, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(net, 0, code, fmt, ap);
	va_end(ap);
}

void net__fatal(struct chat_net *net, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(net, status, code, fmt, ap);
	va_end(ap);
}

void net__hashset_add(struct hash_entry **set, uint64_t h, size_t max)
{
	struct hash_entry *e = NULL;

	HASH_FIND(hh, *set, &h, sizeof(h), e);
	if(e) return;
	if(HASH_COUNT(*set) >= max){
		e = *set; /* the oldest: uthash iterates in insertion order */
		HASH_DELETE(hh, *set, e);
		free(e);
	}
	e = calloc(1, sizeof(*e));
	if(!e) return; /* out of memory: a repeat may be shown */
	e->key = h;
	HASH_ADD(hh, *set, key, sizeof(e->key), e);
}

int net__hashset_has(struct hash_entry *set, uint64_t h)
{
	struct hash_entry *e = NULL;

	HASH_FIND(hh, set, &h, sizeof(h), e);
	return e != NULL;
}

void net__hashset_free(struct hash_entry **set)
{
	struct hash_entry *e = NULL, *tmp = NULL;

	HASH_ITER(hh, *set, e, tmp){
		HASH_DELETE(hh, *set, e);
		free(e);
	}
}

uint64_t net__msg_hash(const char *a, const char *b)
{
	uint64_t h = fnv1a64_update(FNV1A64_OFFSET_BASIS, a, strlen(a));

	h = fnv1a64_update(h, "/", 1);
	return fnv1a64_update(h, b, strlen(b));
}
