/* store_meta.h: what a room payload carries beyond its id and body (its
 * kind, ref, reaction, reply_to, thread, mentions), as one short JSON text
 * kept in the intake log beside the body (intake_log.h) and read back by
 * the store. A plain message (no kind, reply, thread or mention) has no
 * meta at all and keeps the fast multi-row path (store_batch.c). */
#ifndef HISTORY_STORE_META_H
#define HISTORY_STORE_META_H

#include <stddef.h>

#include "names.h"
#include "proto.h"
#include "room_msg.h"

struct store_meta {
	enum room_msg_kind kind;
	unsigned long long ref;      /* events: the target's seq */
	unsigned long long reply_to; /* message: 0 if none */
	unsigned long long thread;   /* message: 0 if none */
	char reaction[PROTO_REACTION_MAX + 1];
	char mentions[PROTO_MENTIONS_MAX][NAME_USER_MAX + 1];
	int mention_count;
};

/* The meta of a checked payload: a string the caller frees with
 * cJSON_free, or NULL for a plain message (*failed stays 0) or when out of
 * memory (*failed set to 1). */
char *store_meta_encode(const struct room_msg *msg, int *failed);

/* Reads meta (len bytes; 0: a plain message) into *out. Returns 0, or -1
 * when it is not a meta this service wrote. */
int store_meta_decode(const char *meta, size_t len, struct store_meta *out);

#endif
