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
#include "proto.h"

struct room_msg_limits {
	long max_payload_bytes; /* largest payload looked at */
	long max_body_bytes;    /* largest body accepted */
};

/* The protocol's limits (PROTO_MSG_PAYLOAD_MAX, PROTO_MSG_BODY_MAX). */
extern const struct room_msg_limits room_msg_protocol_limits;

/* What a payload is (its "kind"; absent = a message). Every kind is an
 * event of its own with its own "id"; all but a message change the
 * message whose seq is "ref". */
enum room_msg_kind {
	ROOM_MSG_MESSAGE,
	ROOM_MSG_EDIT,    /* "text" becomes the body of message ref */
	ROOM_MSG_DELETE,  /* message ref is erased */
	ROOM_MSG_REACT,   /* "reaction" added to message ref */
	ROOM_MSG_UNREACT  /* "reaction" taken off message ref */
};

/* The kind's wire name ("message", "edit", ...); never NULL. */
const char *room_msg_kind_name(enum room_msg_kind kind);

/* A payload that passed the check; the strings point into json. Fields a
 * kind does not have are NULL / 0. */
struct room_msg {
	void *json;          /* the parsed payload (cJSON); room_msg_free */
	const char *msg_id;
	enum room_msg_kind kind;
	const char *body;    /* message: exactly the text live readers got; else NULL */
	size_t body_len;
	const char *text;    /* edit: the new text (body rule); else NULL */
	size_t text_len;
	unsigned long long ref;      /* edit, delete, react, unreact: the target's seq (>= 1) */
	const char *reaction;        /* react, unreact: 1-PROTO_REACTION_MAX bytes */
	unsigned long long reply_to; /* message: the seq it quotes, 0 if none */
	unsigned long long thread;   /* message: its thread's root seq, 0 if none */
	const char *mentions[PROTO_MENTIONS_MAX]; /* message: user names, duplicates dropped */
	int mention_count;
};

/* Why a message was refused: a PROTO_ERR_* code, a message for the sender,
 * and the message's id when it had a usable one (else ""). */
struct room_msg_refusal {
	const char *code;
	char message[128];
	char msg_id[NAME_MSGID_MAX + 1];
};

/* Checks a payload published on chat/v1/rooms/{room}/msg/{sender}
 * (docs/PROTOCOL.md 3.1): size, JSON object, nesting, one "id" (a message
 * id), an optional "kind" (bad_message when unknown), then by kind:
 * - message: one "body" (the body rule of room_msg_body_check); optional
 *   "reply_to" and "thread" (seqs), "mentions" (up to PROTO_MENTIONS_MAX
 *   user names);
 * - edit: "ref" and "text" (the body rule, said of "text");
 * - delete: "ref";  react, unreact: "ref" and "reaction" (room_msg_reaction_check).
 * An event carries no "body" (bad_message), so that a reader that knows no
 * kinds never shows it. A seq missing or not a whole number is bad_message,
 * a whole number below 1 or over 2^53 is bad_ref. What the archive alone
 * can tell (unknown_ref, forbidden, deleted) is history-svc's to check.
 * Returns 0 with *out filled (free with room_msg_free), or -1 with *why
 * filled and *out empty. */
int room_msg_check(const struct room_msg_limits *limits, const void *payload, size_t len,
		struct room_msg *out, struct room_msg_refusal *why);

/* Frees what room_msg_check kept and empties msg. */
void room_msg_free(struct room_msg *msg);

/* The body rule alone, for a body already decoded (len bytes, NUL bytes
 * included): 1 to max_body_bytes bytes of valid UTF-8 without control
 * characters other than \n and \t. Returns 0, or -1 with why->code and
 * why->message filled (why->msg_id is left alone). */
int room_msg_body_check(long max_body_bytes, const char *body, size_t len, struct room_msg_refusal *why);

/* The reaction rule alone: 1 to PROTO_REACTION_MAX bytes (too_large when
 * longer) of valid UTF-8 without control characters or whitespace (ASCII
 * or Unicode; bad_reaction). Returns 0, or -1 with why->code and
 * why->message filled. */
int room_msg_reaction_check(const char *reaction, size_t len, struct room_msg_refusal *why);

#endif
