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

#endif
