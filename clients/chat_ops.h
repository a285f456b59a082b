/* chat_ops.h: the client's side of message operations (docs/PROTOCOL.md
 * 3.1, "Message operations"): the rules an event payload (edit, delete,
 * react, unreact) meets, the seq index that says who wrote which message
 * of a room, and the live rule: a live edit or delete counts only when
 * its topic sender wrote the message, a reaction from any member, and an
 * event about a message the client does not have waits for the stored
 * form. Pure functions of their arguments (no network, no threads), so
 * that they can be unit-tested alone; chat_net uses them under its lock. */
#ifndef CHAT_OPS_H
#define CHAT_OPS_H

#include <stddef.h>

#include <uthash.h>

#include "names.h"
#include "proto.h"

#define OPS_REACTION_MAX PROTO_REACTION_MAX
#define OPS_MENTIONS_MAX PROTO_MENTIONS_MAX
#define OPS_INDEX_MAX 20000     /* seqs remembered per room */

/* The kind of a room payload: "message" when it has no "kind", the
 * string when it is one, or NULL (a kind that is not a string). The
 * string points into json (a cJSON object). */
const char *ops_payload_kind(const void *json);

/* The reaction rule of room_msg.h (1-32 bytes of UTF-8 without control
 * characters or whitespace) for a NUL-terminated reaction (NULL: no).
 * Returns 1 when reaction meets it. */
int ops_reaction_valid(const char *reaction);

/* Collects the @names of body (an '@' at the start or after a character
 * that is not a name character, then a valid user name) into names, at
 * most max of them, each once. Returns how many. */
size_t ops_mentions_from_body(const char *body, char (*names)[NAME_USER_MAX + 1], size_t max);

/* One message or event of a room the client knows by its seq. */
struct ops_entry {
	long seq;
	UT_hash_handle hh;
	char sender[NAME_USER_MAX + 1];
	int is_event;           /* an event row (edit, delete, ...), not a message */
	int deleted;            /* a message deleted since */
};

/* The seqs of one room (a uthash; zero it to start empty), bounded: the
 * oldest put goes first when it holds OPS_INDEX_MAX. */
struct ops_index {
	struct ops_entry *by_seq;
	size_t count;
};

/* Records seq as written by sender (an event row when is_event). A seq
 * already known keeps its sender; deleted is or-ed in. Returns 0, or -1
 * when out of memory. */
int ops_index_put(struct ops_index *ix, long seq, const char *sender, int is_event, int deleted);

/* The entry of seq, or NULL when it is not known. */
struct ops_entry *ops_index_find(const struct ops_index *ix, long seq);

/* Frees every entry; ix is empty again. */
void ops_index_free(struct ops_index *ix);

enum ops_verdict {
	OPS_APPLY,      /* show it now */
	OPS_UNKNOWN,    /* no such message here (yet): wait for its stored form */
	OPS_FORGED,     /* its sender may not do this live: ignore */
	OPS_DELETED,    /* the message is deleted: nothing to change */
};

/* The live rule for an event of kind about message ref published under
 * topic sender: see the file comment. Returns the verdict. */
enum ops_verdict ops_live_verdict(const struct ops_index *ix, const char *kind, long ref, const char *sender);

/* A short word for a verdict ("apply", "unknown", ...), static. */
const char *ops_verdict_name(enum ops_verdict v);

#endif
