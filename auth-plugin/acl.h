/* acl.h: the chat rules of docs/PROTOCOL.md as one pure function, so that
 * they are unit-tested without a broker. Decisions use only the snapshot
 * (hash lookups) and string checks on the topic: O(1) per call, which
 * matters because Mosquitto checks read access for every subscriber of every
 * delivered message. */
#ifndef AUTH_ACL_H
#define AUTH_ACL_H

#include <stdbool.h>

#include "snapshot.h"

/* Same values as MOSQ_ACL_* in mosquitto.h (2.0). */
enum acl_access { ACL_READ = 1, ACL_WRITE = 2, ACL_SUBSCRIBE = 4, ACL_UNSUBSCRIBE = 8 };

enum acl_answer { ACL_ALLOW, ACL_DENY, ACL_DEFER };

/* Decides whether user (already looked up in the snapshot; NULL when the
 * client is unknown to it) may perform access on topic (a topic filter for
 * ACL_SUBSCRIBE/ACL_UNSUBSCRIBE, a concrete topic otherwise). retain is the
 * message's retain flag for ACL_WRITE.
 * Privileged roles (enabled) are allowed everything, everywhere. For other
 * clients: ACL_DEFER for topics outside chat/v1 (other rules decide them;
 * subscription filters starting with a wildcard count as outside, since the
 * per-message read check still guards chat topics), ACL_ALLOW or ACL_DENY
 * inside it. */
enum acl_answer acl_chat_decide(const struct snapshot_user *user, int access,
		const char *topic, bool retain);

/* Narrows chat_answer (what acl_chat_decide and the ACL file said) for a
 * connection that logged in with a token (tok; NULL when that token is no
 * longer good: everything but unsubscribing is refused). A token without a
 * scope changes nothing. A scoped token reaches only the room topics
 * (messages and typing) of its scope rooms, and only where chat_answer
 * allows too (the intersection with the user's memberships): both ways for
 * TOKEN_SCOPE_FULL, only ACL_WRITE for TOKEN_SCOPE_PUBLISH, only ACL_READ and
 * ACL_SUBSCRIBE for TOKEN_SCOPE_READ. Inbox, requests, presence and topics
 * outside the chat tree are refused. O(1): a topic split and at most
 * TOKEN_SCOPE_ROOMS_MAX compares. */
enum acl_answer acl_token_scope(const struct snapshot_token *tok, int access,
		const char *topic, enum acl_answer chat_answer);

#endif
