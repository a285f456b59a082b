/* test_client.c: the chat client's pure parts: the incoming-message parser
 * (clients/chat_proto.c: what a user would see from each payload, and that
 * a sender is taken from the topic, never the payload) and the reconnect
 * backoff (clients/chat_backoff.c: exponential, capped, jittered, checked
 * over many draws). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "test.h"
#include "../../clients/chat_backoff.h"
#include "../../clients/chat_net.h"
#include "../../clients/chat_proto.h"

#define EVENTS_MAX 16

/* A copy of one event's fields a test looks at. */
struct seen_event {
	enum chat_event_kind kind;
	char room[64], user[64], id[64], body[256], state[32], code[32], text[256], op[32];
	int has_text;
	long seq, count, tag, unread;
	int retained;
};

struct recorder {
	struct seen_event ev[EVENTS_MAX];
	size_t n;
	const char *known_req; /* the one req_id "we" sent */
	long known_tag;
};

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static void record(void *ctx, const struct chat_event *ev)
{
	struct recorder *rec = ctx;
	struct seen_event *s = NULL;

	if(rec->n == EVENTS_MAX) return;
	s = &rec->ev[rec->n++];
	memset(s, 0, sizeof(*s));
	s->kind = ev->kind;
	copy(s->room, sizeof(s->room), ev->room);
	copy(s->user, sizeof(s->user), ev->user);
	copy(s->id, sizeof(s->id), ev->id);
	copy(s->body, sizeof(s->body), ev->body);
	copy(s->state, sizeof(s->state), ev->state);
	copy(s->code, sizeof(s->code), ev->code);
	copy(s->text, sizeof(s->text), ev->text);
	copy(s->op, sizeof(s->op), ev->op);
	s->has_text = ev->text != NULL;
	s->seq = ev->seq;
	s->count = ev->count;
	s->tag = ev->tag;
	s->unread = ev->unread;
	s->retained = ev->retained;
}

static int match(void *ctx, const char *req_id, char *room, size_t room_len, long *tag)
{
	struct recorder *rec = ctx;

	if(!rec->known_req || strcmp(req_id, rec->known_req)) return 0;
	snprintf(room, room_len, "lobby");
	*tag = rec->known_tag;
	return 1;
}

/* Feeds one publish of len bytes to the parser as alice; the events land
 * in rec. */
static void feed_len(struct recorder *rec, const char *topic, const char *payload, size_t len, int retained)
{
	struct chat_proto_sink sink = { .emit = record, .match = match, .ctx = rec, .self = "alice",
		.retained = retained };

	rec->n = 0;
	chat_proto_incoming(&sink, topic, payload, len);
}

static void feed(struct recorder *rec, const char *topic, const char *payload, int retained)
{
	feed_len(rec, topic, payload, strlen(payload), retained);
}

static void proto_room_message_sender_is_the_topic(void)
{
	struct recorder rec = { 0 };

	feed(&rec, "chat/v1/rooms/lobby/msg/bob", "{\"id\":\"m1\",\"body\":\"hi\\nthere\",\"sender\":\"mallory\"}", 0);
	if(!CHECK_EQ(rec.n, 1)) return;
	CHECK_EQ(rec.ev[0].kind, CHAT_EV_MSG);
	CHECK_STR(rec.ev[0].room, "lobby");
	CHECK_STR(rec.ev[0].user, "bob");
	CHECK_STR(rec.ev[0].id, "m1");
	CHECK_STR(rec.ev[0].body, "hi\nthere");
	CHECK_EQ(rec.ev[0].seq, 0);
}

/* A room message that breaks PROTOCOL 3.1 is not shown: one note says
 * why (plain mode prints it on stderr, full-screen mode not at all). */
static void check_ignored(struct recorder *rec)
{
	if(!CHECK_EQ(rec->n, 1)) return;
	CHECK_EQ(rec->ev[0].kind, CHAT_EV_NOTE);
	CHECK(!strncmp(rec->ev[0].text, "ignored a message from bob in lobby", 35));
}

static void proto_malformed_payloads_are_reported_not_shown(void)
{
	static const char *const bad[] = { "", "not json", "[1,2]", "{\"id\":\"m1\"}", "{\"id\":1,\"body\":\"x\"}",
		"{\"id\":\"m1\",\"body\":null}" };
	struct recorder rec = { 0 };

	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		feed(&rec, "chat/v1/rooms/lobby/msg/bob", bad[i], 0);
		check_ignored(&rec);
	}
	feed(&rec, "chat/v1/something/else", "{}", 0);
	CHECK_EQ(rec.n, 1);
	CHECK_EQ(rec.ev[0].kind, CHAT_EV_BAD_PAYLOAD);
}

static void proto_room_messages_breaking_the_body_rule_are_not_shown(void)
{
	static const char *const bad[] = {
		"{\"id\":\"n1\",\"body\":\"a\\u0000b\"}",         /* shown cut at the NUL before */
		"{\"id\":\"e1\",\"body\":\"\\u001b[31mred\"}",     /* drives the terminal */
		"{\"id\":\"c1\",\"body\":\"cr\\rover\"}",
		"{\"id\":\"d1\",\"body\":\"del\\u007f\"}",
		"{\"id\":\"s1\",\"body\":\"half \\ud800\"}",
		"{\"id\":\"u1\",\"body\":\"\xff\"}",
		"{\"id\":\"z1\",\"body\":\"\"}",
		"{\"id\":\"b1\",\"body\":\"shown\",\"body\":\"stored\"}",
		"{\"id\":\"bad id\",\"body\":\"x\"}",
	};
	const char raw_nul[] = "{\"id\":\"n2\",\"body\":\"a\0b\"}";
	struct recorder rec = { 0 };
	char big[CHAT_BODY_MAX + 64];

	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		feed(&rec, "chat/v1/rooms/lobby/msg/bob", bad[i], 0);
		check_ignored(&rec);
	}
	feed_len(&rec, "chat/v1/rooms/lobby/msg/bob", raw_nul, sizeof(raw_nul) - 1, 0);
	check_ignored(&rec);
	/* One byte over the body limit, then exactly at it. */
	snprintf(big, sizeof(big), "{\"id\":\"l1\",\"body\":\"%0*d\"}", CHAT_BODY_MAX + 1, 0);
	feed(&rec, "chat/v1/rooms/lobby/msg/bob", big, 0);
	check_ignored(&rec);
	snprintf(big, sizeof(big), "{\"id\":\"l2\",\"body\":\"%0*d\"}", CHAT_BODY_MAX, 0);
	feed(&rec, "chat/v1/rooms/lobby/msg/bob", big, 0);
	if(CHECK_EQ(rec.n, 1)) CHECK_EQ(rec.ev[0].kind, CHAT_EV_MSG);
	/* Tab, newline and C1 controls are text. */
	feed(&rec, "chat/v1/rooms/lobby/msg/bob", "{\"id\":\"t1\",\"body\":\"a\\tb\\nc \\u0085\"}", 0);
	if(CHECK_EQ(rec.n, 1)){
		CHECK_EQ(rec.ev[0].kind, CHAT_EV_MSG);
		CHECK_STR(rec.ev[0].body, "a\tb\nc \xC2\x85");
	}
}

static void proto_receipts_only_from_our_inbox(void)
{
	struct recorder rec = { 0 };

	feed(&rec, "chat/v1/users/alice/inbox",
			"{\"type\":\"receipt\",\"room\":\"lobby\",\"id\":\"m1\",\"seq\":42,\"ts\":\"2026-11-29T10:00:00.000Z\"}", 0);
	if(CHECK_EQ(rec.n, 1)){
		CHECK_EQ(rec.ev[0].kind, CHAT_EV_RECEIPT);
		CHECK_STR(rec.ev[0].room, "lobby");
		CHECK_STR(rec.ev[0].id, "m1");
		CHECK_EQ(rec.ev[0].seq, 42);
	}
	feed(&rec, "chat/v1/users/bob/inbox", "{\"type\":\"receipt\",\"room\":\"lobby\",\"id\":\"m1\",\"seq\":42}", 0);
	CHECK_EQ(rec.n, 1);
	CHECK_EQ(rec.ev[0].kind, CHAT_EV_BAD_PAYLOAD);
	feed(&rec, "chat/v1/users/alice/inbox", "{\"type\":\"receipt\",\"room\":\"lobby\",\"id\":\"m1\",\"seq\":0}", 0);
	CHECK_EQ(rec.ev[0].kind, CHAT_EV_BAD_PAYLOAD);
	/* A type of a later protocol version: ignored. */
	feed(&rec, "chat/v1/users/alice/inbox", "{\"type\":\"reaction\",\"room\":\"lobby\"}", 0);
	CHECK_EQ(rec.n, 0);
}

static void proto_history_reply_to_our_request(void)
{
	struct recorder rec = { .known_req = "r1", .known_tag = CHAT_TAG_SHOW_NEWEST };

	feed(&rec, "chat/v1/users/alice/inbox",
			"{\"type\":\"reply\",\"req_id\":\"r1\",\"op\":\"history\",\"ok\":true,\"last_seq\":9,\"messages\":["
			"{\"seq\":8,\"sender\":\"bob\",\"id\":\"a\",\"ts\":\"2026-11-29T10:00:00.000Z\",\"body\":\"one\"},"
			"{\"seq\":\"x\",\"sender\":\"bob\",\"ts\":\"t\",\"body\":\"bad seq\"},"
			/* bodies that break PROTOCOL 3.1: not shown, a note each */
			"{\"seq\":7,\"sender\":\"bob\",\"ts\":\"2026-11-29T10:00:00.000Z\",\"body\":\"a\\u0000b\"},"
			"{\"seq\":7,\"sender\":\"bob\",\"ts\":\"2026-11-29T10:00:00.000Z\",\"body\":\"\\u001b[2J\"},"
			"{\"seq\":9,\"sender\":\"carol\",\"ts\":\"2026-11-29T10:00:01.000Z\",\"body\":\"two\"}]}", 0);
	if(!CHECK_EQ(rec.n, 6)) return;
	CHECK_EQ(rec.ev[0].kind, CHAT_EV_HISTORY);
	CHECK_STR(rec.ev[0].room, "lobby"); /* the room asked about */
	CHECK_EQ(rec.ev[0].seq, 8);
	CHECK_STR(rec.ev[0].body, "one");
	CHECK_EQ(rec.ev[0].tag, CHAT_TAG_SHOW_NEWEST);
	CHECK_EQ(rec.ev[1].kind, CHAT_EV_BAD_PAYLOAD);
	CHECK_EQ(rec.ev[2].kind, CHAT_EV_NOTE);
	CHECK_EQ(rec.ev[3].kind, CHAT_EV_NOTE);
	CHECK_EQ(rec.ev[4].kind, CHAT_EV_HISTORY);
	CHECK_STR(rec.ev[4].user, "carol");
	CHECK_STR(rec.ev[4].id, "");
	CHECK_EQ(rec.ev[5].kind, CHAT_EV_HISTORY_END);
	CHECK_EQ(rec.ev[5].count, 2);
	CHECK_EQ(rec.ev[5].seq, 9);
	CHECK_EQ(rec.ev[5].tag, CHAT_TAG_SHOW_NEWEST);
}

static void proto_replies_and_errors(void)
{
	struct recorder rec = { .known_req = "r2", .known_tag = CHAT_TAG_NONE };

	/* Another device's request: a note, nothing shown. */
	feed(&rec, "chat/v1/users/alice/inbox", "{\"type\":\"reply\",\"req_id\":\"zz\",\"op\":\"rooms\",\"ok\":true,\"rooms\":[]}", 0);
	CHECK_EQ(rec.n, 1);
	CHECK_EQ(rec.ev[0].kind, CHAT_EV_NOTE);
	feed(&rec, "chat/v1/users/alice/inbox", "{\"type\":\"reply\",\"req_id\":\"r2\",\"op\":\"join\",\"ok\":false,"
			"\"error\":{\"code\":\"not_found\",\"message\":\"no such room\"}}", 0);
	if(CHECK_EQ(rec.n, 1)){
		CHECK_EQ(rec.ev[0].kind, CHAT_EV_ERROR);
		CHECK_STR(rec.ev[0].op, "join");
		CHECK_STR(rec.ev[0].code, "not_found");
		CHECK_STR(rec.ev[0].text, "no such room");
		CHECK_STR(rec.ev[0].room, "lobby");
	}
	feed(&rec, "chat/v1/users/alice/inbox", "{\"type\":\"reply\",\"req_id\":\"r2\",\"op\":\"rooms\",\"ok\":true,\"rooms\":["
			"{\"name\":\"lobby\",\"last_seq\":12,\"unread\":3},{\"name\":\"dm-x\",\"last_seq\":1,\"with\":\"bob\"}]}", 0);
	if(CHECK_EQ(rec.n, 3)){
		CHECK_EQ(rec.ev[0].kind, CHAT_EV_ROOM);
		CHECK_EQ(rec.ev[0].seq, 12);
		CHECK_EQ(rec.ev[0].unread, 3);
		CHECK_STR(rec.ev[1].user, "bob");
		CHECK_EQ(rec.ev[2].kind, CHAT_EV_ROOMS_END);
		CHECK_EQ(rec.ev[2].count, 2);
	}
	feed(&rec, "chat/v1/users/alice/inbox", "{\"type\":\"error\",\"code\":\"bad_utf8\",\"message\":\"m\","
			"\"room\":\"lobby\",\"id\":\"m7\"}", 0);
	if(CHECK_EQ(rec.n, 1)){
		CHECK_EQ(rec.ev[0].kind, CHAT_EV_ERROR);
		CHECK_STR(rec.ev[0].code, "bad_utf8");
		CHECK_STR(rec.ev[0].id, "m7");
		CHECK_STR(rec.ev[0].op, "");
	}
}

static void proto_presence_and_typing(void)
{
	struct recorder rec = { 0 };

	feed(&rec, "chat/v1/presence/bob", "{\"user\":\"bob\",\"state\":\"away\",\"text\":\"lunch\"}", 1);
	if(CHECK_EQ(rec.n, 1)){
		CHECK_EQ(rec.ev[0].kind, CHAT_EV_PRESENCE);
		CHECK_STR(rec.ev[0].user, "bob");
		CHECK_STR(rec.ev[0].state, "away");
		CHECK_STR(rec.ev[0].text, "lunch");
		CHECK_EQ(rec.ev[0].retained, 1);
	}
	feed(&rec, "chat/v1/presence/bob", "{\"user\":\"bob\",\"state\":\"online\",\"text\":\"\"}", 0);
	CHECK_EQ(rec.n, 1);
	CHECK(!rec.ev[0].has_text); /* an empty status text is none */
	feed(&rec, "chat/v1/presence/bob", "", 1); /* a retained message cleared */
	CHECK_EQ(rec.n, 0);
	feed(&rec, "chat/v1/rooms/lobby/typing/bob", "{\"typing\":false}", 0);
	if(CHECK_EQ(rec.n, 1)){
		CHECK_EQ(rec.ev[0].kind, CHAT_EV_TYPING);
		CHECK_STR(rec.ev[0].state, "off");
	}
	feed(&rec, "chat/v1/rooms/lobby/typing/bob", "{\"typing\":1}", 0);
	CHECK_EQ(rec.ev[0].kind, CHAT_EV_BAD_PAYLOAD);
}

static void proto_builders_round_trip(void)
{
	char *msg = chat_proto_msg_ext("m1", "a \"quoted\"\nline", 0, 0, NULL, 0);
	char *hist = chat_proto_history("r1", "lobby", 250, 0, 17);
	cJSON *obj = NULL;

	if(!CHECK(msg && hist)) goto out;
	obj = cJSON_Parse(msg);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(obj, "body")), "a \"quoted\"\nline");
	cJSON_Delete(obj);
	obj = cJSON_Parse(hist);
	CHECK_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(obj, "after")), 17);
	CHECK(!cJSON_GetObjectItem(obj, "before"));
	CHECK_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(obj, "limit")), 250);
out:
	cJSON_Delete(obj);
	cJSON_free(msg);
	cJSON_free(hist);
}

/* A small deterministic generator for the draws (xorshift32). */
static uint32_t next_rnd(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

static void backoff_is_exponential_capped_and_jittered(void)
{
	const long min_ms = 1000, max_ms = 30000;
	uint32_t state = 2463534242u;

	for(unsigned attempt = 0; attempt < 12; attempt++){
		long ceiling = min_ms << (attempt < 6 ? attempt : 6);
		long lo = max_ms, hi = 0;

		if(ceiling > max_ms) ceiling = max_ms;
		for(int i = 0; i < 20000; i++){
			long d = chat_backoff_ms(attempt, min_ms, max_ms, next_rnd(&state));

			if(d < lo) lo = d;
			if(d > hi) hi = d;
		}
		/* Never below the floor nor above the (capped) ceiling ... */
		CHECK(lo >= min_ms / 2);
		CHECK(hi <= ceiling);
		/* ... and spread over the whole window (jitter). */
		CHECK(lo < min_ms / 2 + (ceiling - min_ms / 2) / 20 + 1);
		CHECK(hi > ceiling - (ceiling - min_ms / 2) / 20 - 1);
	}
	CHECK_EQ(chat_backoff_ms(0, 1000, 30000, 0), 500);
	CHECK_EQ(chat_backoff_ms(2, 1000, 30000, 3500), 4000);
	CHECK(chat_backoff_ms(1000, 1000, 30000, UINT32_MAX) <= 30000);
	CHECK(chat_backoff_ms(40, 1000, 3600000, UINT32_MAX) <= 3600000);
	/* A cap below the first ceiling: the cap. */
	CHECK_EQ(chat_backoff_ms(3, 1000, 400, 123), 400);
}

static const struct test_case cases[] = {
	TEST_ENTRY(proto_room_message_sender_is_the_topic),
	TEST_ENTRY(proto_malformed_payloads_are_reported_not_shown),
	TEST_ENTRY(proto_room_messages_breaking_the_body_rule_are_not_shown),
	TEST_ENTRY(proto_receipts_only_from_our_inbox),
	TEST_ENTRY(proto_history_reply_to_our_request),
	TEST_ENTRY(proto_replies_and_errors),
	TEST_ENTRY(proto_presence_and_typing),
	TEST_ENTRY(proto_builders_round_trip),
	TEST_ENTRY(backoff_is_exponential_capped_and_jittered),
};

const struct test_suite client_suite = { "client", cases, TEST_COUNT(cases) };
