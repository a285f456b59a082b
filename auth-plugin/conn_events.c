/* conn_events.c: connection events, heartbeats and snapshots for
 * presence-svc, and the typing-indicator guard; see conn_events.h. */
#include "conn_events.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>
#include <uthash.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "conn_event_fields.h"
#include "names.h"
#include "topics.h"
#include "fnv.h"
#include "clock.h"

/* One per connection, so kept small (docs/BENCHMARKS.md, memory per idle
 * connection): the connection id is rebuilt from seq when needed, and the
 * user name is the broker's own (mosquitto_client_username), which lives as
 * long as the connection, until after its DISCONNECT event. */
struct tracked_conn {
	UT_hash_handle hh;
	struct mosquitto *client; /* key: the broker's context pointer */
	unsigned long long seq;   /* the connection id's counter */
	long long since_ms;       /* wall clock, for snapshots */
	long long typing_window_ms; /* monotonic start of the current window */
	unsigned char typing_count; /* at most CONN_EVENTS_TYPING_MAX + 1 */
	bool typing_logged;
};

struct conn_events {
	char node[NAME_NODE_MAX + 1];
	char topic[TOPIC_MAX];
	char sync_topic[TOPIC_MAX];
	char boot[20];             /* boot time in ms, hex: orders boots of a node */
	unsigned long long next_seq;
	unsigned long long event_seq; /* connect/disconnect events published this boot */
	struct tracked_conn *conns;
	uint64_t digest;
	long long next_heartbeat_ms;
	long long last_snapshot_ms;
	bool snapshot_wanted;
	char sync_id[NAME_MSGID_MAX + 1];
};

uint64_t conn_events_id_hash(const char *conn_id)
{
	return fnv1a64_str(conn_id);
}

/* The connection's id, unique across restarts: node, boot, counter. */
static const char *conn_id(const struct conn_events *events, const struct tracked_conn *conn,
		char buf[CONN_EV_ID_MAX + 1])
{
	snprintf(buf, CONN_EV_ID_MAX + 1, "%s-%s-%llu", events->node, events->boot, conn->seq);
	return buf;
}

static const char *conn_user(const struct tracked_conn *conn)
{
	const char *user = mosquitto_client_username(conn->client);

	return user ? user : "";
}

struct conn_events *conn_events_new(const char *node)
{
	struct conn_events *events = NULL;

	if(!node || !name_node_valid(node)) return NULL;
	events = mosquitto_calloc(1, sizeof(*events));
	if(!events) return NULL;
	snprintf(events->node, sizeof(events->node), "%s", node);
	if(topic_sys_conn(events->topic, sizeof(events->topic), node)
			|| topic_sys_sync(events->sync_topic, sizeof(events->sync_topic), node)){
		mosquitto_free(events);
		return NULL;
	}
	snprintf(events->boot, sizeof(events->boot), "%llx", (unsigned long long)clock_wall_ms());
	/* The first heartbeat goes out on the first tick. */
	events->next_heartbeat_ms = 0;
	return events;
}

/* Starts an event object with the fields every event carries. */
static cJSON *event_start(const struct conn_events *events, const char *kind)
{
	cJSON *event = cJSON_CreateObject();

	if(!event) return NULL;
	if(!cJSON_AddStringToObject(event, CONN_EV_EVENT, kind)
			|| !cJSON_AddStringToObject(event, CONN_EV_NODE, events->node)
			|| !cJSON_AddStringToObject(event, CONN_EV_BOOT, events->boot)
			|| !cJSON_AddNumberToObject(event, CONN_EV_SEQ, (double)events->event_seq)
			|| !cJSON_AddNumberToObject(event, CONN_EV_TS, (double)clock_wall_ms())){
		cJSON_Delete(event);
		return NULL;
	}
	return event;
}

/* Publishes event (not freed here) on the node's topic. */
static void event_publish(const struct conn_events *events, const cJSON *event, int qos, const char *what)
{
	char *text = cJSON_PrintUnformatted(event);

	if(!text || mosquitto_broker_publish_copy(NULL, events->topic, (int)strlen(text), text, qos, false, NULL)){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "chat-auth: could not publish a presence %s event", what);
	}
	cJSON_free(text);
}

/* Every change gets the next "seq"; heartbeats and snapshots carry the seq
 * of the last change before them, so presence-svc can tell events still in
 * flight from events lost. */
static void publish_change(struct conn_events *events, const char *kind,
		const struct tracked_conn *conn, const char *client_id)
{
	cJSON *event = NULL;
	char id[CONN_EV_ID_MAX + 1];

	events->event_seq++;
	event = event_start(events, kind);

	if(!event) goto out;
	if(!cJSON_AddStringToObject(event, CONN_EV_CONN, conn_id(events, conn, id))
			|| !cJSON_AddStringToObject(event, CONN_EV_USER, conn_user(conn))
			|| !cJSON_AddStringToObject(event, CONN_EV_CLIENT, client_id ? client_id : "")){
		goto out;
	}
	/* QoS 1 so that the bridge and presence-svc get it at least once. */
	event_publish(events, event, 1, kind);
out:
	cJSON_Delete(event);
}

void conn_events_connected(struct conn_events *events, struct mosquitto *client, const char *username)
{
	struct tracked_conn *conn = NULL;
	char id[CONN_EV_ID_MAX + 1];

	if(!events || !client || !username) return;
	HASH_FIND_PTR(events->conns, &client, conn);
	if(conn){
		/* Re-authentication of the same connection: nothing changes. */
		return;
	}
	conn = mosquitto_calloc(1, sizeof(*conn));
	if(!conn){
		mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: out of memory tracking a connection");
		return;
	}
	conn->client = client;
	conn->seq = ++events->next_seq;
	conn->since_ms = clock_wall_ms();
	HASH_ADD_PTR(events->conns, client, conn);
	events->digest ^= conn_events_id_hash(conn_id(events, conn, id));
	publish_change(events, CONN_EV_KIND_CONNECT, conn, mosquitto_client_id(client));
}

void conn_events_disconnected(struct conn_events *events, struct mosquitto *client)
{
	struct tracked_conn *conn = NULL;
	char id[CONN_EV_ID_MAX + 1];

	if(!events || !client) return;
	HASH_FIND_PTR(events->conns, &client, conn);
	if(!conn) return;
	publish_change(events, CONN_EV_KIND_DISCONNECT, conn, mosquitto_client_id(client));
	events->digest ^= conn_events_id_hash(conn_id(events, conn, id));
	HASH_DEL(events->conns, conn);
	mosquitto_free(conn);
}

static void publish_heartbeat(struct conn_events *events)
{
	cJSON *event = event_start(events, CONN_EV_KIND_HEARTBEAT);
	char digest[17];

	if(!event) goto out;
	snprintf(digest, sizeof(digest), "%016llx", (unsigned long long)events->digest);
	if(!cJSON_AddNumberToObject(event, CONN_EV_CONNS, (double)HASH_COUNT(events->conns))
			|| !cJSON_AddStringToObject(event, CONN_EV_DIGEST, digest)
			|| !cJSON_AddNumberToObject(event, CONN_EV_INTERVAL_MS, CONN_EVENTS_HEARTBEAT_MS)){
		goto out;
	}
	/* QoS 0: a heartbeat is only worth something when it is fresh; a bridge
	 * that is down drops it instead of replaying a stale one later. */
	event_publish(events, event, 0, "heartbeat");
out:
	cJSON_Delete(event);
}

/* Publishes one part of a snapshot: conns from *cursor on, at most
 * CONN_EVENTS_SNAPSHOT_PART of them; advances *cursor. Returns 0 or -1. */
static int publish_snapshot_part(struct conn_events *events, struct tracked_conn **cursor, int part, int parts)
{
	cJSON *event = event_start(events, CONN_EV_KIND_SNAPSHOT);
	cJSON *list = NULL, *item;
	int rc = -1;

	if(!event) goto out;
	if((events->sync_id[0] && !cJSON_AddStringToObject(event, CONN_EV_SYNC, events->sync_id))
			|| !cJSON_AddNumberToObject(event, CONN_EV_PART, part)
			|| !cJSON_AddNumberToObject(event, CONN_EV_PARTS, parts)){
		goto out;
	}
	list = cJSON_AddArrayToObject(event, CONN_EV_CONNS);
	if(!list) goto out;
	for(int n = 0; *cursor && n < CONN_EVENTS_SNAPSHOT_PART; n++, *cursor = (*cursor)->hh.next){
		const char *client_id = mosquitto_client_id((*cursor)->client);
		char id[CONN_EV_ID_MAX + 1];

		item = cJSON_CreateObject();
		if(!item) goto out;
		cJSON_AddItemToArray(list, item);
		if(!cJSON_AddStringToObject(item, CONN_EV_CONN, conn_id(events, *cursor, id))
				|| !cJSON_AddStringToObject(item, CONN_EV_USER, conn_user(*cursor))
				|| !cJSON_AddStringToObject(item, CONN_EV_CLIENT, client_id ? client_id : "")
				|| !cJSON_AddNumberToObject(item, CONN_EV_SINCE, (double)(*cursor)->since_ms)){
			goto out;
		}
	}
	event_publish(events, event, 1, "snapshot");
	rc = 0;
out:
	cJSON_Delete(event);
	return rc;
}

/* All parts go out in one broker callback, so no event of this node can
 * fall between them: presence-svc may replace its view of the node with
 * the snapshot once the last part is in. */
static void publish_snapshot(struct conn_events *events)
{
	struct tracked_conn *cursor = events->conns;
	unsigned int count = HASH_COUNT(events->conns);
	int parts = count == 0 ? 1 : (int)((count + CONN_EVENTS_SNAPSHOT_PART - 1) / CONN_EVENTS_SNAPSHOT_PART);

	for(int part = 1; part <= parts; part++){
		if(publish_snapshot_part(events, &cursor, part, parts)){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "chat-auth: presence snapshot cut short at part %d of %d", part, parts);
			break;
		}
	}
	mosquitto_log_printf(MOSQ_LOG_INFO, "chat-auth: presence snapshot of %u connections in %d parts", count, parts);
}

void conn_events_tick(struct conn_events *events)
{
	long long now;

	if(!events) return;
	now = clock_mono_ms();
	if(now >= events->next_heartbeat_ms){
		events->next_heartbeat_ms = now + CONN_EVENTS_HEARTBEAT_MS;
		publish_heartbeat(events);
	}
	/* A snapshot costs O(connections): at most one per second, however
	 * often presence-svc asks. */
	if(events->snapshot_wanted && now - events->last_snapshot_ms >= 1000){
		events->snapshot_wanted = false;
		events->last_snapshot_ms = now;
		publish_snapshot(events);
	}
}

void conn_events_message(struct conn_events *events, const char *topic, const void *payload, uint32_t len)
{
	cJSON *request = NULL;
	const cJSON *id;

	if(!events || !topic || strcmp(topic, events->sync_topic)) return;
	events->snapshot_wanted = true;
	events->sync_id[0] = '\0';
	if(len > 0 && len <= 256) request = cJSON_ParseWithLength(payload, len);
	id = cJSON_GetObjectItemCaseSensitive(request, CONN_EV_SYNC);
	if(cJSON_IsString(id) && name_msgid_valid(id->valuestring)){
		snprintf(events->sync_id, sizeof(events->sync_id), "%s", id->valuestring);
	}
	cJSON_Delete(request);
	/* Answer on this tick if the rate limit allows it, not one tick later. */
	conn_events_tick(events);
}

/* Whether payload is a JSON object whose "typing" member is a boolean. */
static bool typing_payload_valid(const void *payload, uint32_t len)
{
	cJSON *obj = NULL;
	bool ok = false;

	if(len == 0 || len > CONN_EVENTS_TYPING_PAYLOAD_MAX) goto out;
	obj = cJSON_ParseWithLength(payload, len);
	ok = cJSON_IsObject(obj) && cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(obj, "typing"));
out:
	cJSON_Delete(obj);
	return ok;
}

bool conn_events_publish_allowed(struct conn_events *events, struct mosquitto *client, const char *topic,
		const void *payload, uint32_t len)
{
	struct tracked_conn *conn = NULL;
	long long now;

	/* Cheap test first: this runs for every publish. */
	if(!events || !topic || strncmp(topic, TOPIC_PREFIX "/rooms/", 14) || !strstr(topic + 14, "/typing/")) return true;
	HASH_FIND_PTR(events->conns, &client, conn);
	if(!conn) return true; /* services and bridges are not limited */
	now = clock_mono_ms();
	if(now - conn->typing_window_ms >= CONN_EVENTS_TYPING_WINDOW_MS){
		conn->typing_window_ms = now;
		conn->typing_count = 0;
		conn->typing_logged = false;
	}
	/* Malformed ones count too, which also bounds these log lines. The
	 * count stops one past the limit (it is one byte). */
	if(conn->typing_count <= CONN_EVENTS_TYPING_MAX) conn->typing_count++;
	if(conn->typing_count > CONN_EVENTS_TYPING_MAX){
		if(!conn->typing_logged){
			conn->typing_logged = true;
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "chat-auth: typing indicators of %s over %d per %d ms; dropping",
					conn_user(conn), CONN_EVENTS_TYPING_MAX, CONN_EVENTS_TYPING_WINDOW_MS);
		}
		return false;
	}
	if(!typing_payload_valid(payload, len)){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "chat-auth: dropped a malformed typing indicator from %s on %s",
				conn_user(conn), topic);
		return false;
	}
	return true;
}

void conn_events_free(struct conn_events *events)
{
	struct tracked_conn *conn, *tmp;

	if(!events) return;
	HASH_ITER(hh, events->conns, conn, tmp){
		HASH_DEL(events->conns, conn);
		mosquitto_free(conn);
	}
	mosquitto_free(events);
}
