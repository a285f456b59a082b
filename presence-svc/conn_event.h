/* conn_event.h: reads one payload of chat/v1/sys/conn/{node} (a connect,
 * disconnect, heartbeat or snapshot of docs/PROTOCOL.md section 3.6) into a
 * plain struct, checking every field, before presence-svc applies it. No
 * state: the same bytes always give the same answer. */
#ifndef PRESENCE_CONN_EVENT_H
#define PRESENCE_CONN_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "conn_event_fields.h"
#include "names.h"

enum conn_event_kind {
	CONN_EVENT_CONNECT,
	CONN_EVENT_DISCONNECT,
	CONN_EVENT_HEARTBEAT,
	CONN_EVENT_SNAPSHOT,
};

/* One connection: of a connect or disconnect, or a snapshot entry. */
struct conn_event_conn {
	char conn[CONN_EV_ID_MAX + 1];
	char user[NAME_USER_MAX + 1];
	char client[CONN_EV_CLIENT_MAX + 1]; /* "" when absent or not valid UTF-8 */
	long long since_ms;                  /* snapshot entries; 0 when absent */
};

struct conn_event {
	enum conn_event_kind kind;
	char node[NAME_NODE_MAX + 1];
	unsigned long long boot;             /* never 0 */
	long long seq;                       /* 0 when absent */
	/* connect, disconnect */
	struct conn_event_conn conn;
	/* heartbeat */
	unsigned long conns;
	uint64_t digest;
	/* snapshot: the valid entries of this part (entries with a bad
	 * connection id or user name are left out), in payload order */
	long part, parts;
	struct conn_event_conn *list;
	size_t list_len;
};

/* Reads payload (len bytes, not NUL-terminated) received on the topic of
 * node topic_node into *event. Returns 0, or -1 when the payload is not
 * such an event: not a JSON object, an unknown "event", a "node" other than
 * topic_node, a missing or bad "boot", "seq" or kind-specific field, a
 * connection id or user name that breaks the protocol's rules. On 0 the
 * caller frees with conn_event_clear; on -1 there is nothing to free. */
int conn_event_parse(const char *topic_node, const void *payload, size_t len, struct conn_event *event);

/* Frees what conn_event_parse allocated in event (NULL allowed). */
void conn_event_clear(struct conn_event *event);

#endif
