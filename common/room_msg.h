/* room_msg.h: the rules a room message must meet (docs/PROTOCOL.md 3.1),
 * written once for both ends of the wire: history-svc refuses a message
 * that breaks them (with the 3.3 error), and a receiving client ignores a
 * live message that breaks them, so that what a client shows is what the
 * archive holds. Pure functions of the payload and the limits, so that
 * they can be tested and fuzzed alone. */
#ifndef CHAT_ROOM_MSG_H
#define CHAT_ROOM_MSG_H

#include <stddef.h>

#include "names.h"

struct room_msg_limits {
	long max_payload_bytes; /* largest payload looked at */
	long max_body_bytes;    /* largest body accepted */
};

/* The protocol's limits (PROTO_MSG_PAYLOAD_MAX, PROTO_MSG_BODY_MAX). */
extern const struct room_msg_limits room_msg_protocol_limits;

/* A message that passed the check; the strings point into json. */
struct room_msg {
	void *json;          /* the parsed payload (cJSON); room_msg_free */
	const char *msg_id;
	const char *body;    /* exactly the text live readers got */
	size_t body_len;
};

/* Why a message was refused: a PROTO_ERR_* code, a message for the sender,
 * and the message's id when it had a usable one (else ""). */
struct room_msg_refusal {
	const char *code;
	char message[128];
	char msg_id[NAME_MSGID_MAX + 1];
};

/* Checks a payload published on chat/v1/rooms/{room}/msg/{sender}: size,
 * JSON object, nesting, one "id" (a message id), one "body" (the body rule
 * of room_msg_body_check). Returns 0 with *out filled (free with
 * room_msg_free), or -1 with *why filled and *out empty. */
int room_msg_check(const struct room_msg_limits *limits, const void *payload, size_t len,
		struct room_msg *out, struct room_msg_refusal *why);

/* Frees what room_msg_check kept and empties msg. */
void room_msg_free(struct room_msg *msg);

/* The body rule alone, for a body already decoded (len bytes, NUL bytes
 * included): 1 to max_body_bytes bytes of valid UTF-8 without control
 * characters other than \n and \t. Returns 0, or -1 with why->code and
 * why->message filled (why->msg_id is left alone). */
int room_msg_body_check(long max_body_bytes, const char *body, size_t len, struct room_msg_refusal *why);

#endif
