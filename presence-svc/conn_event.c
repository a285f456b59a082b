/* conn_event.c: the connection-event parser; see conn_event.h. */
#include "conn_event.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "json_payload.h"
#include "json_util.h"
#include "proto.h"

/* Largest integer a JSON number carries exactly (2^53 - 1). */
#define JSON_INT_MAX 9007199254740991L
#define PARTS_MAX 1000000L
#define CONNS_MAX 100000000L

static bool conn_id_valid(const char *id)
{
	size_t len = id ? strlen(id) : 0;

	if(len == 0 || len > CONN_EV_ID_MAX) return false;
	for(size_t i = 0; i < len; i++){
		char c = id[i];
		if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')){
			return false;
		}
	}
	return true;
}

/* Reads 1-16 lower- or upper-case hex digits (nothing else: no sign,
 * space or 0x) into *out. Returns 0 or -1. */
static int hex_read(const char *text, unsigned long long *out)
{
	size_t len = text ? strlen(text) : 0;
	unsigned long long value = 0;

	if(len == 0 || len > CONN_EV_HEX_MAX) return -1;
	for(size_t i = 0; i < len; i++){
		char c = text[i];
		int digit;

		if(c >= '0' && c <= '9') digit = c - '0';
		else if(c >= 'a' && c <= 'f') digit = c - 'a' + 10;
		else if(c >= 'A' && c <= 'F') digit = c - 'A' + 10;
		else return -1;
		value = value << 4 | (unsigned long long)digit;
	}
	*out = value;
	return 0;
}

/* Reads the connection fields of obj into conn. Returns 0, or -1 when the
 * connection id or user name is missing or breaks the rules. */
static int conn_read(const cJSON *obj, struct conn_event_conn *conn, bool with_since)
{
	const char *id = json_get_str(obj, CONN_EV_CONN, CONN_EV_ID_MAX);
	const char *user = json_get_str(obj, CONN_EV_USER, NAME_USER_MAX);
	const char *client = json_get_str(obj, CONN_EV_CLIENT, CONN_EV_CLIENT_MAX);
	long since = 0;

	if(!conn_id_valid(id) || !user || !name_user_valid(user)) return -1;
	if(with_since && json_get_long(obj, CONN_EV_SINCE, 0, 0, JSON_INT_MAX, &since)) return -1;
	memset(conn, 0, sizeof(*conn));
	snprintf(conn->conn, sizeof(conn->conn), "%s", id);
	snprintf(conn->user, sizeof(conn->user), "%s", user);
	/* The client id is only shown to the user (devices): one that is not
	 * text is shown as "" rather than costing the user their presence. */
	if(client && utf8_valid(client, strlen(client))) snprintf(conn->client, sizeof(conn->client), "%s", client);
	conn->since_ms = since;
	return 0;
}

static int heartbeat_read(const cJSON *obj, struct conn_event *event)
{
	long conns = -1;
	unsigned long long digest;

	if(!cJSON_GetObjectItemCaseSensitive(obj, CONN_EV_CONNS)
			|| json_get_long(obj, CONN_EV_CONNS, -1, 0, CONNS_MAX, &conns)
			|| hex_read(json_get_str(obj, CONN_EV_DIGEST, CONN_EV_HEX_MAX), &digest)){
		return -1;
	}
	event->conns = (unsigned long)conns;
	event->digest = digest;
	return 0;
}

static int snapshot_read(const cJSON *obj, struct conn_event *event)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(obj, CONN_EV_CONNS);
	const cJSON *item;
	int count;

	if(json_get_long(obj, CONN_EV_PART, 0, 1, PARTS_MAX, &event->part) || event->part == 0
			|| json_get_long(obj, CONN_EV_PARTS, 0, 1, PARTS_MAX, &event->parts) || event->parts == 0
			|| event->part > event->parts || !cJSON_IsArray(list)){
		return -1;
	}
	count = cJSON_GetArraySize(list);
	if(count == 0) return 0;
	event->list = calloc((size_t)count, sizeof(*event->list));
	if(!event->list) return -1;
	cJSON_ArrayForEach(item, list){
		/* A bad entry is left out: the rest of the node's view still counts. */
		if(cJSON_IsObject(item) && !conn_read(item, &event->list[event->list_len], true)) event->list_len++;
	}
	return 0;
}

int conn_event_parse(const char *topic_node, const void *payload, size_t len, struct conn_event *event)
{
	cJSON *obj = NULL;
	const char *kind, *node;
	long seq = 0;
	int rc = -1;

	memset(event, 0, sizeof(*event));
	if(!topic_node || !payload) goto out;
	/* A NUL in a name must not cut it down to another valid name. */
	if(json_payload_parse(payload, len, PROTO_MAX_DEPTH, &obj) != JSON_PAYLOAD_OK) goto out;
	kind = json_get_str(obj, CONN_EV_EVENT, 16);
	node = json_get_str(obj, CONN_EV_NODE, NAME_NODE_MAX);
	if(!kind || !node || !name_node_valid(node) || strcmp(node, topic_node)) goto out;
	if(hex_read(json_get_str(obj, CONN_EV_BOOT, CONN_EV_HEX_MAX), &event->boot) || event->boot == 0) goto out;
	if(json_get_long(obj, CONN_EV_SEQ, 0, 0, JSON_INT_MAX, &seq)) goto out;
	event->seq = seq;
	snprintf(event->node, sizeof(event->node), "%s", node);
	if(!strcmp(kind, CONN_EV_KIND_CONNECT) || !strcmp(kind, CONN_EV_KIND_DISCONNECT)){
		event->kind = kind[0] == 'c' ? CONN_EVENT_CONNECT : CONN_EVENT_DISCONNECT;
		rc = conn_read(obj, &event->conn, false);
	}else if(!strcmp(kind, CONN_EV_KIND_HEARTBEAT)){
		event->kind = CONN_EVENT_HEARTBEAT;
		rc = heartbeat_read(obj, event);
	}else if(!strcmp(kind, CONN_EV_KIND_SNAPSHOT)){
		event->kind = CONN_EVENT_SNAPSHOT;
		rc = snapshot_read(obj, event);
	}
out:
	if(rc) conn_event_clear(event);
	cJSON_Delete(obj);
	return rc;
}

void conn_event_clear(struct conn_event *event)
{
	if(!event) return;
	free(event->list);
	event->list = NULL;
	event->list_len = 0;
}
