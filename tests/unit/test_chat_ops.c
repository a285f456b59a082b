/* test_chat_ops.c: message operations in the chat client: the live rule
 * and the seq index (clients/chat_ops.c), @mentions taken from a typed
 * line, and what chat_proto makes of event payloads, history entries in
 * their current state, the room meta topic, mention notices and the new
 * replies (clients/chat_proto_ops.c). */
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "test.h"
#include "../../clients/chat_ops.h"
#include "../../clients/chat_proto.h"

#define EVENTS_MAX 8

struct seen {
	enum chat_event_kind kind;
	char room[64], user[64], op_kind[16], text[128], reaction[40], reactions[256], mentions[128],
		deleted_by[40], body[128], op[16];
	long seq, ref, reply_to, thread, replies, count;
	int stored;
};

struct rec {
	struct seen ev[EVENTS_MAX];
	size_t n;
};

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static void record(void *ctx, const struct chat_event *ev)
{
	struct rec *rec = ctx;
	struct seen *s = NULL;

	if(rec->n == EVENTS_MAX) return;
	s = &rec->ev[rec->n++];
	memset(s, 0, sizeof(*s));
	s->kind = ev->kind;
	copy(s->room, sizeof(s->room), ev->room);
	copy(s->user, sizeof(s->user), ev->user);
	copy(s->op_kind, sizeof(s->op_kind), ev->op_kind);
	copy(s->text, sizeof(s->text), ev->text);
	copy(s->reaction, sizeof(s->reaction), ev->reaction);
	copy(s->reactions, sizeof(s->reactions), ev->reactions);
	copy(s->mentions, sizeof(s->mentions), ev->mentions);
	copy(s->deleted_by, sizeof(s->deleted_by), ev->deleted_by);
	copy(s->body, sizeof(s->body), ev->body);
	copy(s->op, sizeof(s->op), ev->op);
	s->seq = ev->seq;
	s->ref = ev->ref;
	s->reply_to = ev->reply_to;
	s->thread = ev->thread;
	s->replies = ev->replies;
	s->count = ev->count;
	s->stored = ev->stored;
}

static int match_any(void *ctx, const char *req_id, char *room, size_t room_len, long *tag)
{
	(void)ctx;
	(void)req_id;
	snprintf(room, room_len, "lobby");
	*tag = 0;
	return 1;
}

static void feed(struct rec *rec, const char *topic, const char *payload)
{
	struct chat_proto_sink sink = { .emit = record, .match = match_any, .ctx = rec, .self = "bob" };

	memset(rec, 0, sizeof(*rec));
	chat_proto_incoming(&sink, topic, payload, strlen(payload));
}

/* The live rule: edits and deletes only from the message's sender,
 * reactions from anyone, nothing about a message not known or deleted. */
static void live_rule(void)
{
	struct ops_index ix = { 0 };

	CHECK_EQ(ops_index_put(&ix, 10, "alice", 0, 0), 0);
	CHECK_EQ(ops_index_put(&ix, 11, "bob", 1, 0), 0); /* an event row */
	CHECK_EQ(ops_live_verdict(&ix, "edit", 10, "alice"), OPS_APPLY);
	CHECK_EQ(ops_live_verdict(&ix, "edit", 10, "mallory"), OPS_FORGED);
	CHECK_EQ(ops_live_verdict(&ix, "delete", 10, "mallory"), OPS_FORGED);
	CHECK_EQ(ops_live_verdict(&ix, "react", 10, "mallory"), OPS_APPLY);
	CHECK_EQ(ops_live_verdict(&ix, "unreact", 10, "mallory"), OPS_APPLY);
	CHECK_EQ(ops_live_verdict(&ix, "edit", 12, "alice"), OPS_UNKNOWN);
	CHECK_EQ(ops_live_verdict(&ix, "react", 11, "alice"), OPS_UNKNOWN); /* events are no targets */
	CHECK_EQ(ops_live_verdict(&ix, "topic", 10, "alice"), OPS_FORGED);  /* only history-svc's */
	/* Deleted: nothing changes it any more; a known seq keeps its sender. */
	CHECK_EQ(ops_index_put(&ix, 10, "", 0, 1), 0);
	CHECK_STR(ops_index_find(&ix, 10)->sender, "alice");
	CHECK_EQ(ops_live_verdict(&ix, "edit", 10, "alice"), OPS_DELETED);
	CHECK_EQ(ops_live_verdict(&ix, "react", 10, "bob"), OPS_DELETED);
	CHECK_EQ(ops_live_verdict(&ix, "delete", 10, "mallory"), OPS_FORGED);
	ops_index_free(&ix);
	CHECK(ops_index_find(&ix, 10) == NULL);
}

/* The index forgets the oldest beyond its bound. */
static void index_bounded(void)
{
	struct ops_index ix = { 0 };

	for(long seq = 1; seq <= OPS_INDEX_MAX + 5; seq++) ops_index_put(&ix, seq, "alice", 0, 0);
	CHECK_EQ(ix.count, OPS_INDEX_MAX);
	CHECK(ops_index_find(&ix, 5) == NULL);
	CHECK(ops_index_find(&ix, 6) != NULL);
	CHECK(ops_index_find(&ix, OPS_INDEX_MAX + 5) != NULL);
	ops_index_free(&ix);
}

static void mentions_from_a_line(void)
{
	char names[OPS_MENTIONS_MAX][NAME_USER_MAX + 1];

	CHECK_EQ(ops_mentions_from_body("@bob and @carol.smith, then @bob again; mail a@b.c", names, OPS_MENTIONS_MAX), 2);
	CHECK_STR(names[0], "bob");
	CHECK_STR(names[1], "carol.smith");
	CHECK_EQ(ops_mentions_from_body("ask @dave.", names, OPS_MENTIONS_MAX), 1);
	CHECK_STR(names[0], "dave");
	CHECK_EQ(ops_mentions_from_body("@ alone, @@, @-x", names, OPS_MENTIONS_MAX), 0);
	CHECK_EQ(ops_mentions_from_body("@a @b @c", names, 2), 2);
}

static void reactions(void)
{
	CHECK(ops_reaction_valid("👍"));
	CHECK(ops_reaction_valid(":+1:"));
	CHECK(!ops_reaction_valid(""));
	CHECK(!ops_reaction_valid("two words"));
	CHECK(!ops_reaction_valid("nbsp\xc2\xa0"));
	CHECK(!ops_reaction_valid("0123456789012345678901234567890123"));
	CHECK(!ops_reaction_valid(NULL));
}

/* Live events become CHAT_EV_OP with the sender from the topic; a message's
 * reply_to, thread and mentions come along. */
static void live_payloads(void)
{
	struct rec rec;

	feed(&rec, "chat/v1/rooms/lobby/msg/alice", "{\"id\":\"e1\",\"kind\":\"edit\",\"ref\":7,\"text\":\"new\",\"sender\":\"bob\"}");
	if(CHECK_EQ(rec.n, 1)){
		CHECK_EQ(rec.ev[0].kind, CHAT_EV_OP);
		CHECK_STR(rec.ev[0].op_kind, "edit");
		CHECK_STR(rec.ev[0].user, "alice");
		CHECK_EQ(rec.ev[0].ref, 7);
		CHECK_STR(rec.ev[0].text, "new");
		CHECK_EQ(rec.ev[0].stored, 0);
	}
	feed(&rec, "chat/v1/rooms/lobby/msg/bob", "{\"id\":\"r1\",\"kind\":\"react\",\"ref\":7,\"reaction\":\"🎉\"}");
	CHECK(rec.n == 1 && rec.ev[0].kind == CHAT_EV_OP && !strcmp(rec.ev[0].reaction, "🎉"));
	/* Broken events are not shown: a note says why. */
	feed(&rec, "chat/v1/rooms/lobby/msg/bob", "{\"id\":\"r2\",\"kind\":\"react\",\"ref\":7,\"reaction\":\"a b\"}");
	CHECK(rec.n == 1 && rec.ev[0].kind == CHAT_EV_NOTE);
	feed(&rec, "chat/v1/rooms/lobby/msg/bob", "{\"id\":\"x1\",\"kind\":\"shout\",\"ref\":7}");
	CHECK(rec.n == 1 && rec.ev[0].kind == CHAT_EV_NOTE);
	feed(&rec, "chat/v1/rooms/lobby/msg/bob", "{\"id\":\"e2\",\"kind\":\"edit\",\"ref\":7,\"text\":\"a\\u001bb\"}");
	CHECK(rec.n == 1 && rec.ev[0].kind == CHAT_EV_NOTE);
	feed(&rec, "chat/v1/rooms/lobby/msg/bob",
			"{\"id\":\"m1\",\"body\":\"hi @alice\",\"reply_to\":3,\"thread\":2,\"mentions\":[\"alice\",\"carol\"]}");
	if(CHECK_EQ(rec.n, 1)){
		CHECK_EQ(rec.ev[0].kind, CHAT_EV_MSG);
		CHECK_EQ(rec.ev[0].reply_to, 3);
		CHECK_EQ(rec.ev[0].thread, 2);
		CHECK_STR(rec.ev[0].mentions, "alice,carol");
	}
}

/* History entries in their current state, and event entries. */
static void history_entries(void)
{
	struct rec rec;

	feed(&rec, "chat/v1/users/bob/inbox",
			"{\"type\":\"reply\",\"req_id\":\"q1\",\"op\":\"history\",\"ok\":true,\"room\":\"lobby\",\"last_seq\":9,\"messages\":["
			"{\"seq\":5,\"id\":\"a\",\"sender\":\"alice\",\"ts\":\"T1\",\"body\":\"now\",\"kind\":\"message\",\"edited\":\"T2\","
			"\"replies\":2,\"last_reply\":\"T3\",\"reactions\":[{\"reaction\":\"👍\",\"count\":3,\"users\":[\"bob\",\"carol\"]},"
			"{\"reaction\":\":x:\",\"count\":1,\"users\":[\"dave\"]}]},"
			"{\"seq\":6,\"id\":\"b\",\"sender\":\"bob\",\"ts\":\"T1\",\"body\":\"\",\"kind\":\"message\",\"deleted\":{\"by\":\"alice\",\"ts\":\"T4\"}},"
			"{\"seq\":7,\"id\":\"c\",\"sender\":\"alice\",\"ts\":\"T2\",\"body\":\"\",\"kind\":\"edit\",\"ref\":5,\"text\":\"now\"},"
			"{\"seq\":8,\"id\":\"d\",\"sender\":\"alice\",\"ts\":\"T2\",\"body\":\"\",\"kind\":\"topic\",\"topic\":\"plans\"}]}");
	if(!CHECK_EQ(rec.n, 5)) return;
	CHECK_STR(rec.ev[0].op_kind, "message");
	CHECK_STR(rec.ev[0].reactions, "👍:3:bob,carol :x::1:dave"); /* the last two colons split */
	CHECK_EQ(rec.ev[0].replies, 2);
	CHECK_EQ(rec.ev[1].kind, CHAT_EV_HISTORY); /* a tombstone: shown though its body is "" */
	CHECK_STR(rec.ev[1].deleted_by, "alice");
	CHECK_STR(rec.ev[2].op_kind, "edit");
	CHECK_EQ(rec.ev[2].ref, 5);
	CHECK_STR(rec.ev[2].text, "now");
	CHECK_STR(rec.ev[3].op_kind, "topic");
	CHECK_STR(rec.ev[3].text, "plans");
	CHECK_EQ(rec.ev[4].kind, CHAT_EV_HISTORY_END);
	CHECK_EQ(rec.ev[4].count, 4);
}

/* A thread's page: its root comes first, then the replies. */
static void thread_page(void)
{
	struct rec rec;

	feed(&rec, "chat/v1/users/bob/inbox",
			"{\"type\":\"reply\",\"req_id\":\"q4\",\"op\":\"history\",\"ok\":true,\"room\":\"lobby\",\"last_seq\":9,"
			"\"root\":{\"seq\":5,\"id\":\"a\",\"sender\":\"alice\",\"ts\":\"T1\",\"body\":\"plan\",\"kind\":\"message\",\"replies\":1},"
			"\"messages\":[{\"seq\":8,\"id\":\"b\",\"sender\":\"bob\",\"ts\":\"T2\",\"body\":\"ok\",\"kind\":\"message\",\"thread\":5}]}");
	if(!CHECK_EQ(rec.n, 3)) return;
	CHECK(rec.ev[0].seq == 5 && rec.ev[0].replies == 1);
	CHECK(rec.ev[1].seq == 8 && rec.ev[1].thread == 5);
	CHECK(rec.ev[2].kind == CHAT_EV_HISTORY_END && rec.ev[2].count == 2);
}

/* The meta topic (from history-svc), mention notices, new replies. */
static void meta_and_inbox(void)
{
	struct rec rec;

	feed(&rec, "chat/v1/rooms/lobby/meta", "{\"type\":\"delete\",\"room\":\"lobby\",\"seq\":12,\"ref\":5,\"by\":\"alice\",\"ts\":\"T\"}");
	CHECK(rec.n == 1 && rec.ev[0].kind == CHAT_EV_OP && rec.ev[0].stored && rec.ev[0].ref == 5 && rec.ev[0].seq == 12
			&& !strcmp(rec.ev[0].user, "alice") && !strcmp(rec.ev[0].op_kind, "delete"));
	feed(&rec, "chat/v1/rooms/lobby/meta", "{\"type\":\"topic\",\"room\":\"lobby\",\"seq\":13,\"by\":\"alice\",\"ts\":\"T\",\"topic\":null}");
	CHECK(rec.n == 1 && rec.ev[0].kind == CHAT_EV_OP && !strcmp(rec.ev[0].op_kind, "topic") && !rec.ev[0].text[0]);
	feed(&rec, "chat/v1/rooms/lobby/meta", "{\"type\":\"read\",\"room\":\"lobby\",\"user\":\"carol\",\"seq\":11}");
	CHECK(rec.n == 1 && rec.ev[0].kind == CHAT_EV_READ && rec.ev[0].seq == 11 && !strcmp(rec.ev[0].user, "carol"));
	feed(&rec, "chat/v1/rooms/lobby/meta", "{\"type\":\"later\",\"seq\":1,\"by\":\"x\"}");
	CHECK_EQ(rec.n, 0);
	feed(&rec, "chat/v1/users/bob/inbox",
			"{\"type\":\"mention\",\"room\":\"ops\",\"seq\":4,\"id\":\"m\",\"sender\":\"alice\",\"ts\":\"T\",\"body\":\"hi @bob\"}");
	CHECK(rec.n == 1 && rec.ev[0].kind == CHAT_EV_MENTION && rec.ev[0].seq == 4 && !strcmp(rec.ev[0].body, "hi @bob"));
	feed(&rec, "chat/v1/users/bob/inbox",
			"{\"type\":\"reply\",\"req_id\":\"q2\",\"op\":\"search\",\"ok\":true,\"results\":[{\"room\":\"ops\",\"seq\":4,"
			"\"sender\":\"alice\",\"ts\":\"T\",\"snippet\":\"hi @bob\"}],\"next\":\"c42\"}");
	CHECK(rec.n == 2 && rec.ev[0].kind == CHAT_EV_ITEM && rec.ev[0].seq == 4 && !strcmp(rec.ev[0].room, "ops"));
	CHECK(rec.n == 2 && rec.ev[1].kind == CHAT_EV_ITEMS_END && !strcmp(rec.ev[1].text, "c42") && rec.ev[1].count == 1);
	feed(&rec, "chat/v1/users/bob/inbox", "{\"type\":\"reply\",\"req_id\":\"q3\",\"op\":\"prefs\",\"ok\":true,\"share_read\":false}");
	CHECK(rec.n == 1 && rec.ev[0].kind == CHAT_EV_REPLY && !strcmp(rec.ev[0].op, "prefs"));
}

/* Builders: what chat sends. */
static void builders(void)
{
	const char mentions[2][NAME_USER_MAX + 1] = { "bob", "carol" };
	char *s = chat_proto_msg_ext("m1", "hi", 3, 2, mentions, 2);

	CHECK_STR(s, "{\"id\":\"m1\",\"body\":\"hi\",\"reply_to\":3,\"thread\":2,\"mentions\":[\"bob\",\"carol\"]}");
	cJSON_free(s);
	s = chat_proto_event("e1", "react", 7, NULL, "👍");
	CHECK_STR(s, "{\"id\":\"e1\",\"kind\":\"react\",\"ref\":7,\"reaction\":\"👍\"}");
	cJSON_free(s);
	s = chat_proto_topic("q", "lobby", NULL);
	CHECK_STR(s, "{\"op\":\"topic\",\"req_id\":\"q\",\"room\":\"lobby\",\"topic\":null}");
	cJSON_free(s);
}

static const struct test_case cases[] = {
	TEST_ENTRY(live_rule),
	TEST_ENTRY(index_bounded),
	TEST_ENTRY(mentions_from_a_line),
	TEST_ENTRY(reactions),
	TEST_ENTRY(live_payloads),
	TEST_ENTRY(history_entries),
	TEST_ENTRY(thread_page),
	TEST_ENTRY(meta_and_inbox),
	TEST_ENTRY(builders),
};

const struct test_suite chat_ops_suite = { "chat_ops", cases, TEST_COUNT(cases) };
