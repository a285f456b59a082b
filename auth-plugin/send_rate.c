/* send_rate.c: per-user token buckets for room messages and requests; see
 * send_rate.h. Tokens are counted in thousandths, so that refilling
 * rate per second is rate thousandths per millisecond: integers only. */
#include "send_rate.h"

#include <string.h>

#include <uthash.h>

#include "names.h"
#include "plugin_alloc.h"
#include "topics.h"

#define MILLI 1000LL

struct bucket {
	long long tokens;   /* thousandths of a send */
	long long at_ms;    /* when tokens was last brought up to date */
};

struct sender {
	char user[NAME_USER_MAX + 1];
	struct bucket buckets[SEND_KIND_COUNT];
	long long last_use_ms;
	long long log_window_ms;        /* start of the window of the last log line; -1: none */
	unsigned long long dropped;     /* refused since the last log line */
	UT_hash_handle hh;              /* by user; table order = least recently used first */
};

struct send_rate {
	struct send_rate_opts opts;
	long long idle_ms;              /* an entry idle this long is the same as none */
	struct sender *senders;
};

struct send_rate *send_rate_new(const struct send_rate_opts *opts)
{
	struct send_rate *sr = plugin_calloc(1, sizeof(*sr));

	if(!sr) return NULL;
	sr->opts = *opts;
	if(sr->opts.max_users < 1) sr->opts.max_users = 1;
	sr->idle_ms = SEND_RATE_LOG_WINDOW_MS;
	for(int k = 0; k < SEND_KIND_COUNT; k++){
		long long refill_ms;

		if(sr->opts.rate[k] <= 0) continue;
		if(sr->opts.burst[k] < 1) sr->opts.burst[k] = 1;
		/* From empty to full, rounded up. */
		refill_ms = (sr->opts.burst[k] * MILLI * MILLI + sr->opts.rate[k] * MILLI - 1) / (sr->opts.rate[k] * MILLI);
		if(refill_ms > sr->idle_ms) sr->idle_ms = refill_ms;
	}
	return sr;
}

enum send_kind send_rate_classify(const char *topic)
{
	struct topic_parts parts;

	switch(topic_parse(topic, &parts)){
	case TOPIC_ROOM_MSG: return SEND_ROOM_MSG;
	case TOPIC_USER_REQ: return SEND_REQUEST;
	default: return SEND_UNLIMITED;
	}
}

/* Brings bucket up to now_ms: rate thousandths per ms, capped at burst. */
static void refill(struct bucket *b, long rate, long burst, long long now_ms)
{
	long long cap = burst * MILLI;
	long long elapsed = now_ms - b->at_ms;

	b->at_ms = now_ms;
	if(elapsed <= 0) return;
	/* Clamped first, so that a long idle time cannot overflow. */
	if(elapsed >= cap / rate + 1){
		b->tokens = cap;
		return;
	}
	b->tokens += elapsed * rate;
	if(b->tokens > cap) b->tokens = cap;
}

static void drop_sender(struct send_rate *sr, struct sender *s)
{
	HASH_DEL(sr->senders, s);
	plugin_free(s);
}

/* A new entry with full buckets; the least recently used one makes room
 * when the table is full. NULL when out of memory. */
static struct sender *add_sender(struct send_rate *sr, const char *user, size_t len, long long now_ms)
{
	struct sender *s;

	if(HASH_COUNT(sr->senders) >= sr->opts.max_users) drop_sender(sr, sr->senders);
	s = plugin_calloc(1, sizeof(*s));
	if(!s) return NULL;
	memcpy(s->user, user, len + 1);
	for(int k = 0; k < SEND_KIND_COUNT; k++){
		s->buckets[k].tokens = sr->opts.burst[k] * MILLI;
		s->buckets[k].at_ms = now_ms;
	}
	s->log_window_ms = -1;
	HASH_ADD(hh, sr->senders, user, len, s);
	return s;
}

enum send_verdict send_rate_take(struct send_rate *sr, const char *user, enum send_kind kind,
		long long now_ms, unsigned long long *dropped)
{
	struct sender *s = NULL;
	struct bucket *b;
	size_t len;

	if(!sr || !user || kind < 0 || kind >= SEND_KIND_COUNT || sr->opts.rate[kind] <= 0) return SEND_OK;
	len = strlen(user);
	if(len > NAME_USER_MAX) return SEND_OK; /* never a chat user: the ACL refused it already */
	HASH_FIND(hh, sr->senders, user, len, s);
	if(s){
		/* To the end of the table: the head is always the least recently used. */
		HASH_DEL(sr->senders, s);
		HASH_ADD(hh, sr->senders, user, len, s);
	}else{
		s = add_sender(sr, user, len, now_ms);
		if(!s) return SEND_OK;
	}
	s->last_use_ms = now_ms;
	b = &s->buckets[kind];
	refill(b, sr->opts.rate[kind], sr->opts.burst[kind], now_ms);
	if(b->tokens >= MILLI){
		b->tokens -= MILLI;
		return SEND_OK;
	}
	s->dropped++;
	if(s->log_window_ms >= 0 && now_ms - s->log_window_ms < SEND_RATE_LOG_WINDOW_MS) return SEND_DROP;
	s->log_window_ms = now_ms;
	if(dropped) *dropped = s->dropped;
	s->dropped = 0;
	return SEND_DROP_LOG;
}

void send_rate_expire(struct send_rate *sr, long long now_ms)
{
	if(!sr) return;
	/* Least recently used first: stop at the first entry still in use. */
	while(sr->senders && now_ms - sr->senders->last_use_ms >= sr->idle_ms){
		drop_sender(sr, sr->senders);
	}
}

size_t send_rate_users(const struct send_rate *sr)
{
	return sr ? HASH_COUNT(sr->senders) : 0;
}

void send_rate_free(struct send_rate *sr)
{
	struct sender *s, *tmp;

	if(!sr) return;
	HASH_ITER(hh, sr->senders, s, tmp){
		HASH_DEL(sr->senders, s);
		plugin_free(s);
	}
	plugin_free(sr);
}
