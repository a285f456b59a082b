/* chat_proto_ops.h: the message-operation payloads of chat/v1 (PROTOCOL
 * 3.1 message operations, the room meta topic, mention notices, the
 * topic/role/ban/receipts/prefs/search replies, the extra fields of
 * history entries), parsed for chat_proto.c, which calls these and
 * nothing here calls back. The builders are declared in chat_proto.h. */
#ifndef CHAT_PROTO_OPS_H
#define CHAT_PROTO_OPS_H

#include <stddef.h>

#include "chat_proto.h"

/* Room for the strings a history entry's extra fields are turned into. */
struct proto_ops_scratch {
	char reactions[1024];
	char mentions[24 * (NAME_USER_MAX + 1)];
};

/* The optional fields of a message payload or history entry (json):
 * reply_to, thread, mentions; and of a history entry: kind, ref, text,
 * reaction, topic, edited, deleted, replies, last_reply, reactions.
 * Fills ev (strings point into json or s). Returns 0, or -1 when a field
 * present is malformed. */
int proto_ops_fields(const void *json, struct chat_event *ev, struct proto_ops_scratch *s);

/* When topic is chat/v1/rooms/{room}/meta: copies room (NAME_ROOM_MAX + 1
 * bytes) and returns 1; else 0. */
int proto_ops_meta_topic(const char *topic, char *room);

/* A payload of the room meta topic: CHAT_EV_OP (stored) for delete and
 * topic, CHAT_EV_READ for read, CHAT_EV_BAD_PAYLOAD when malformed;
 * unknown types are ignored. */
void proto_ops_meta(const struct chat_proto_sink *sink, const char *topic, const char *room,
		const void *payload, size_t len);

/* An inbox notice {"type":"mention",...}: CHAT_EV_MENTION. */
void proto_ops_mention(const struct chat_proto_sink *sink, const char *topic, const void *obj);

/* A successful reply of op (json obj) to our request: topic, role, ban,
 * unban, bans, receipts, prefs, search. Returns 1 when op is one of them
 * (events emitted), else 0. */
int proto_ops_reply(const struct chat_proto_sink *sink, const char *topic, const void *obj, const char *op,
		const char *asked_room, long tag);

#endif
