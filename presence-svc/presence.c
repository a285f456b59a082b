/* presence.c: online/offline state from connection events; see presence.h. */
#include "presence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <uthash.h>

#include "json_util.h"
#include "log.h"
#include "names.h"
#include "timefmt.h"

struct conn_entry {
	char conn_id[64];
	char user[NAME_USER_MAX + 1];
	UT_hash_handle hh;
};

struct user_entry {
	char user[NAME_USER_MAX + 1];
	unsigned int devices;
	char since[TIMEFMT_LEN];
	UT_hash_handle hh;
};

struct presence {
	struct conn_entry *conns;
	struct user_entry *users;
	presence_publish_fn publish;
	presence_offline_fn offline;
	void *ud;
};

struct presence *presence_new(presence_publish_fn publish, presence_offline_fn offline, void *ud)
{
	struct presence *p = calloc(1, sizeof(*p));

	if(!p) return NULL;
	p->publish = publish;
	p->offline = offline;
	p->ud = ud;
	return p;
}

static void announce(struct presence *p, const char *user, const char *state,
		unsigned int devices, const char *since, const char *last_seen)
{
	cJSON *obj = cJSON_CreateObject();
	char *text = NULL;

	if(!obj) goto out;
	cJSON_AddStringToObject(obj, "user", user);
	cJSON_AddStringToObject(obj, "state", state);
	cJSON_AddNumberToObject(obj, "devices", devices);
	cJSON_AddStringToObject(obj, "since", since);
	if(last_seen) cJSON_AddStringToObject(obj, "last_seen", last_seen);
	else cJSON_AddNullToObject(obj, "last_seen");
	text = json_print(obj);
	if(text) p->publish(p->ud, user, text);
out:
	cJSON_free(text);
	cJSON_Delete(obj);
}

static void connected(struct presence *p, const char *conn_id, const char *user)
{
	struct conn_entry *conn = NULL;
	struct user_entry *entry = NULL;

	HASH_FIND_STR(p->conns, conn_id, conn);
	if(conn) return; /* a repeated event (QoS 1 redelivery) */
	conn = calloc(1, sizeof(*conn));
	if(!conn) return;
	snprintf(conn->conn_id, sizeof(conn->conn_id), "%s", conn_id);
	snprintf(conn->user, sizeof(conn->user), "%s", user);
	HASH_ADD_STR(p->conns, conn_id, conn);
	HASH_FIND_STR(p->users, user, entry);
	if(!entry){
		entry = calloc(1, sizeof(*entry));
		if(!entry) return;
		snprintf(entry->user, sizeof(entry->user), "%s", user);
		HASH_ADD_STR(p->users, user, entry);
	}
	entry->devices++;
	if(entry->devices == 1){
		timefmt_now(entry->since, NULL);
		log_info("%s is online", user);
	}
	announce(p, user, "online", entry->devices, entry->since, NULL);
}

static void disconnected(struct presence *p, const char *conn_id)
{
	struct conn_entry *conn = NULL;
	struct user_entry *entry = NULL;
	char iso[TIMEFMT_LEN], sql[TIMEFMT_LEN];

	HASH_FIND_STR(p->conns, conn_id, conn);
	if(!conn) return; /* never seen, or already gone */
	HASH_FIND_STR(p->users, conn->user, entry);
	if(entry && entry->devices > 0) entry->devices--;
	if(entry && entry->devices == 0){
		timefmt_now(iso, sql);
		log_info("%s is offline", entry->user);
		announce(p, entry->user, "offline", 0, iso, iso);
		p->offline(p->ud, entry->user, sql);
		HASH_DEL(p->users, entry);
		free(entry);
	}else if(entry){
		announce(p, entry->user, "online", entry->devices, entry->since, NULL);
	}
	HASH_DEL(p->conns, conn);
	free(conn);
}

int presence_apply_event(struct presence *p, const char *node, const void *payload, size_t len)
{
	cJSON *event = NULL;
	const char *kind, *conn_id, *user, *event_node;
	int rc = -1;

	event = json_parse_object(payload, len);
	if(!event) goto out;
	kind = json_get_str(event, "event", 16);
	conn_id = json_get_str(event, "conn", 63);
	user = json_get_str(event, "user", NAME_USER_MAX);
	event_node = json_get_str(event, "node", NAME_NODE_MAX);
	if(!kind || !conn_id || !*conn_id || !user || !name_user_valid(user)
			|| !event_node || strcmp(event_node, node)){
		goto out;
	}
	if(!strcmp(kind, "connect")) connected(p, conn_id, user);
	else if(!strcmp(kind, "disconnect")) disconnected(p, conn_id);
	else goto out;
	rc = 0;
out:
	cJSON_Delete(event);
	return rc;
}

size_t presence_users_online(const struct presence *p)
{
	return HASH_COUNT(p->users);
}

size_t presence_connections(const struct presence *p)
{
	return HASH_COUNT(p->conns);
}

void presence_free(struct presence *p)
{
	struct conn_entry *conn, *conn_tmp;
	struct user_entry *entry, *entry_tmp;

	if(!p) return;
	HASH_ITER(hh, p->conns, conn, conn_tmp){
		HASH_DEL(p->conns, conn);
		free(conn);
	}
	HASH_ITER(hh, p->users, entry, entry_tmp){
		HASH_DEL(p->users, entry);
		free(entry);
	}
	free(p);
}
