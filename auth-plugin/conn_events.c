/* conn_events.c: connection events for presence-svc; see conn_events.h. */
#include "conn_events.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>
#include <uthash.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "names.h"
#include "topics.h"

struct tracked_conn {
	struct mosquitto *client; /* key: the broker's context pointer */
	char conn_id[64];
	char user[NAME_USER_MAX + 1];
	UT_hash_handle hh;
};

struct conn_events {
	char node[NAME_NODE_MAX + 1];
	char topic[TOPIC_MAX];
	unsigned long long boot_ms;
	unsigned long long next_seq;
	struct tracked_conn *conns;
};

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000ULL + (unsigned long long)ts.tv_nsec / 1000000ULL;
}

struct conn_events *conn_events_new(const char *node)
{
	struct conn_events *events = mosquitto_calloc(1, sizeof(*events));

	if(!events) return NULL;
	snprintf(events->node, sizeof(events->node), "%s", node);
	if(topic_sys_conn(events->topic, sizeof(events->topic), node)){
		mosquitto_free(events);
		return NULL;
	}
	events->boot_ms = now_ms();
	return events;
}

static void publish_event(struct conn_events *events, const char *kind,
		const struct tracked_conn *conn, const char *client_id)
{
	cJSON *event = cJSON_CreateObject();
	char *text = NULL;

	if(!event) goto out;
	if(!cJSON_AddStringToObject(event, "event", kind)
			|| !cJSON_AddStringToObject(event, "node", events->node)
			|| !cJSON_AddStringToObject(event, "conn", conn->conn_id)
			|| !cJSON_AddStringToObject(event, "user", conn->user)
			|| !cJSON_AddStringToObject(event, "client", client_id ? client_id : "")
			|| !cJSON_AddNumberToObject(event, "ts", (double)now_ms())){
		goto out;
	}
	text = cJSON_PrintUnformatted(event);
	if(!text) goto out;
	/* QoS 1 so that the bridge and presence-svc get it at least once. */
	if(mosquitto_broker_publish_copy(NULL, events->topic, (int)strlen(text), text, 1, false, NULL)){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "chat-auth: could not publish a %s event for %s", kind, conn->user);
	}
out:
	cJSON_free(text);
	cJSON_Delete(event);
}

void conn_events_connected(struct conn_events *events, struct mosquitto *client, const char *username)
{
	struct tracked_conn *conn = NULL;

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
	snprintf(conn->conn_id, sizeof(conn->conn_id), "%s-%llx-%llu",
			events->node, events->boot_ms, ++events->next_seq);
	snprintf(conn->user, sizeof(conn->user), "%s", username);
	HASH_ADD_PTR(events->conns, client, conn);
	publish_event(events, "connect", conn, mosquitto_client_id(client));
}

void conn_events_disconnected(struct conn_events *events, struct mosquitto *client)
{
	struct tracked_conn *conn = NULL;

	if(!events || !client) return;
	HASH_FIND_PTR(events->conns, &client, conn);
	if(!conn) return;
	publish_event(events, "disconnect", conn, mosquitto_client_id(client));
	HASH_DEL(events->conns, conn);
	mosquitto_free(conn);
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
