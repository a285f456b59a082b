/* fuzz_chat_incoming.c: libFuzzer target for the chat client's parser of
 * incoming publishes (clients/chat_proto.c, chat_proto_incoming), as the
 * user alice. Input: the topic, a newline, then the payload; the first
 * byte's low bit is the retain flag. Replies to req_id "r1" are taken as
 * this client's own (about room "lobby"). Besides surviving ASan and
 * UBSan, every event must keep what the front ends rely on:
 *  - a room message's sender is the topic's last level, never a payload
 *    field, and it has a room, an id and a body;
 *  - a room message or history line is shown only when its body meets
 *    the rule history-svc stores by (room_msg.h): no control character
 *    but \n and \t, valid UTF-8, 1 to PROTO_MSG_BODY_MAX bytes;
 *  - the fields an event kind promises are set (names valid, seq > 0 for
 *    receipts and history lines);
 *  - a history reply ends with a history-end counting the lines it gave;
 *  - nothing but bad-payload and note comes from another user's inbox.
 *   make fuzz (every target)       make test runs each for 10 s */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../clients/chat_net.h"
#include "../../clients/chat_proto.h"
#include "names.h"
#include "proto.h"
#include "room_msg.h"

struct state {
	char sender[256];        /* the topic's last level for a room message, else "" */
	int other_inbox;         /* the topic is another user's inbox */
	long history_lines;      /* history events since the last history-end */
};

static void check(int ok)
{
	if(!ok) abort();
}

/* True when body meets the body rule of PROTOCOL 3.1. */
static int body_ok(const char *body)
{
	struct room_msg_refusal why;

	return body && !room_msg_body_check(PROTO_MSG_BODY_MAX, body, strlen(body), &why);
}

static void on_event(void *ctx, const struct chat_event *ev)
{
	struct state *st = ctx;

	if(st->other_inbox) check(ev->kind == CHAT_EV_BAD_PAYLOAD || ev->kind == CHAT_EV_NOTE);
	switch(ev->kind){
	case CHAT_EV_MSG:
		check(ev->room && ev->user && name_msgid_valid(ev->id) && body_ok(ev->body));
		check(!strcmp(ev->user, st->sender));
		break;
	case CHAT_EV_RECEIPT:
		check(name_room_valid(ev->room) && name_msgid_valid(ev->id) && ev->seq > 0);
		break;
	case CHAT_EV_HISTORY:
		/* A message meets the body rule; an event's entry and a deleted
		 * message's tombstone carry body "" (PROTOCOL 4.1). */
		check(name_room_valid(ev->room) && name_user_valid(ev->user) && ev->ts && ev->seq > 0 && ev->op_kind && ev->body);
		check(body_ok(ev->body) || strcmp(ev->op_kind, "message") || ev->deleted_by);
		check(!strcmp(ev->op_kind, "message") || !*ev->body);
		st->history_lines++;
		break;
	case CHAT_EV_HISTORY_END:
		check(name_room_valid(ev->room) && ev->count == st->history_lines);
		st->history_lines = 0;
		break;
	case CHAT_EV_ROOM:
		check(name_room_valid(ev->room) && ev->seq >= 0 && ev->unread >= 0 && ev->visibility && ev->state);
		break;
	case CHAT_EV_PRESENCE:
	case CHAT_EV_MEMBER:
		check(name_user_valid(ev->user) && ev->state && (!ev->text || *ev->text));
		break;
	case CHAT_EV_TYPING:
		check(ev->room && ev->user && ev->state && (!strcmp(ev->state, "on") || !strcmp(ev->state, "off")));
		break;
	case CHAT_EV_ERROR:
		check(ev->code && ev->text && !ev->fatal);
		break;
	case CHAT_EV_REPLY:
		check(ev->op != NULL);
		break;
	case CHAT_EV_BAD_PAYLOAD:
		check(ev->topic && ev->text);
		break;
	default:
		break;
	}
}

static int match(void *ctx, const char *req_id, char *room, size_t room_len, long *tag)
{
	(void)ctx;
	if(strcmp(req_id, "r1")) return 0;
	snprintf(room, room_len, "lobby");
	*tag = CHAT_TAG_NEWEST;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state st = { .sender = "" };
	struct chat_proto_sink sink = { .emit = on_event, .match = match, .ctx = &st, .self = "alice" };
	const uint8_t *nl = NULL;
	char *topic = NULL;
	const char *last = NULL;
	size_t tlen;

	if(size < 1) return 0;
	sink.retained = data[0] & 1;
	data++;
	size--;
	nl = memchr(data, '\n', size);
	if(!nl) return 0;
	tlen = (size_t)(nl - data);
	topic = malloc(tlen + 1);
	if(!topic) return 0;
	memcpy(topic, data, tlen);
	topic[tlen] = '\0';
	if(strlen(topic) == tlen){
		last = strrchr(topic, '/');
		if(!strncmp(topic, "chat/v1/rooms/", 14) && strstr(topic, "/msg/") && last && strlen(last + 1) < sizeof(st.sender)){
			snprintf(st.sender, sizeof(st.sender), "%s", last + 1);
		}
		st.other_inbox = !strncmp(topic, "chat/v1/users/", 14) && strncmp(topic, "chat/v1/users/alice/", 20);
		chat_proto_incoming(&sink, topic, nl + 1, size - tlen - 1);
	}
	free(topic);
	return 0;
}
