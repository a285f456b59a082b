/* intake_check.h: the rules a room message must meet before history-svc
 * takes it (docs/PROTOCOL.md 3.1 and 3.3). A pure function of the payload
 * and the limits, so that it can be tested and fuzzed alone; the intake
 * (main.c) sends the refusal through the outbox. */
#ifndef HISTORY_INTAKE_CHECK_H
#define HISTORY_INTAKE_CHECK_H

#include <stddef.h>

#include "names.h"

struct intake_limits {
	long max_payload_bytes; /* largest payload looked at */
	long max_body_bytes;    /* largest body accepted */
};

/* A message that passed the check; the strings point into json. */
struct checked_msg {
	void *json;          /* the parsed payload (cJSON); intake_checked_free */
	const char *msg_id;
	const char *body;    /* exactly the text live readers got */
	size_t body_len;
};

/* Why a message was refused: a PROTO_ERR_* code, a message for the sender,
 * and the message's id when it had a usable one (else ""). */
struct intake_refusal {
	const char *code;
	char message[128];
	char msg_id[NAME_MSGID_MAX + 1];
};

/* Checks a payload published on chat/v1/rooms/{room}/msg/{sender}: size,
 * JSON object, nesting, id, body (a string of 1 to max_body_bytes bytes of
 * UTF-8 without control characters other than \n and \t). Returns 0 with
 * *out filled (free with intake_checked_free), or -1 with *why filled. */
int intake_check(const struct intake_limits *limits, const void *payload, size_t len,
		struct checked_msg *out, struct intake_refusal *why);

/* Frees what intake_check kept. */
void intake_checked_free(struct checked_msg *msg);

#endif
