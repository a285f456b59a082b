/* presence.c: the presence state machine (nodes, connections, users,
 * coalescing, startup hold, typing expiry); see presence.h. */
#include "presence.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>
#include <uthash.h>
#include <utlist.h>

#include "clock.h"
#include "fnv.h"
#include "json_util.h"
#include "log.h"
#include "names.h"
#include "timefmt.h"
#include "topics.h"

#define CONN_ID_MAX 63
#define CLIENT_ID_MAX 128
#define STATUS_TEXT_MAX 100
#define SYNC_RETRY_MS 3000

enum pstate { ST_OFFLINE = 0, ST_ONLINE, ST_AWAY, ST_DND };
static const char *const state_names[] = { "offline", "online", "away", "dnd" };

struct node_entry;

struct conn_entry {
	char conn_id[CONN_ID_MAX + 1];
	char user[NAME_USER_MAX + 1];
	char client[CLIENT_ID_MAX + 1];
	struct node_entry *node;
	uint64_t id_hash;
	long long since_ms;
	UT_hash_handle hh;
};

/* A connection listed in a snapshot that is still coming in. */
struct staged_conn {
	char conn_id[CONN_ID_MAX + 1];
	char user[NAME_USER_MAX + 1];
	char client[CLIENT_ID_MAX + 1];
	long long since_ms;
	UT_hash_handle hh;
};

struct node_entry {
	char name[NAME_NODE_MAX + 1];
	unsigned long long boot;    /* the plugin's boot time: a larger one is a restart */
	long long last_heard;       /* monotonic ms */
	long long last_heard_wall;
	bool lost;                  /* timed out; its connections were dropped */
	bool synced;                /* our view matched the node since its last reset */
	int mismatches;             /* heartbeats in a row that disagreed with us */
	long long applied_seq;      /* seq of the last change (or snapshot) applied */
	long long seq_at_prev_hb;   /* applied_seq when the previous heartbeat came */
	bool sync_pending;
	long long sync_sent;
	unsigned int conns;
	uint64_t digest;
	struct staged_conn *staging;
	int staging_next;           /* the part expected next; 0: none in progress */
	UT_hash_handle hh;
};

struct user_entry {
	char user[NAME_USER_MAX + 1];
	unsigned int devices;
	enum pstate status;         /* chosen while connected: online, away, dnd */
	char text[STATUS_TEXT_MAX + 1];
	long long since_ms;         /* wall: when the current state began */
	long long last_seen_ms;     /* wall: when the user last went offline */
	/* What was last published (or read back retained). */
	bool pub_valid;
	enum pstate pub_state;
	unsigned int pub_devices;
	char pub_text[STATUS_TEXT_MAX + 1];
	long long pub_since_ms;
	long long pub_last_seen_ms;
	long long last_pub;         /* monotonic */
	bool dirty;
	long long due;              /* monotonic: when to look at it again */
	struct user_entry *prev, *next; /* the dirty list */
	UT_hash_handle hh;
};

struct typing_entry {
	char key[NAME_ROOM_MAX + NAME_USER_MAX + 2]; /* "room/user" */
	char room[NAME_ROOM_MAX + 1];
	char user[NAME_USER_MAX + 1];
	long long expires;          /* monotonic */
	UT_hash_handle hh;
};

struct presence {
	struct presence_opts opts;
	struct presence_sink sink;
	struct node_entry *nodes;
	struct conn_entry *conns;
	struct user_entry *users;
	struct user_entry *dirty;
	struct typing_entry *typing;
	bool holding;
	long long started;          /* monotonic */
	bool connected;
	long long connected_since;  /* monotonic */
	unsigned long long next_sync_id;
	struct presence_stats stats;
};

unsigned long long presence_id_hash(const char *conn_id)
{
	return fnv1a64_str(conn_id);
}

static enum pstate state_parse(const char *name)
{
	for(int i = 0; i < 4; i++){
		if(name && !strcmp(name, state_names[i])) return (enum pstate)i;
	}
	return (enum pstate)-1;
}

void presence_opts_default(struct presence_opts *opts)
{
	opts->coalesce_ms = 500;
	opts->min_interval_ms = 2000;
	opts->node_timeout_ms = 8000;
	opts->startup_hold_ms = 4000;
	opts->typing_ttl_ms = 6000;
}

struct presence *presence_new(const struct presence_opts *opts, const struct presence_sink *sink)
{
	struct presence *p = calloc(1, sizeof(*p));

	if(!p) return NULL;
	p->opts = *opts;
	p->sink = *sink;
	p->holding = opts->startup_hold_ms > 0;
	p->started = clock_mono_ms();
	return p;
}

/* ---- users ------------------------------------------------------------ */

static enum pstate effective(const struct user_entry *u)
{
	return u->devices == 0 ? ST_OFFLINE : u->status;
}

static struct user_entry *user_get(struct presence *p, const char *name)
{
	struct user_entry *u = NULL;

	HASH_FIND_STR(p->users, name, u);
	if(u) return u;
	u = calloc(1, sizeof(*u));
	if(!u) return NULL;
	snprintf(u->user, sizeof(u->user), "%s", name);
	u->status = ST_ONLINE;
	HASH_ADD_STR(p->users, user, u);
	return u;
}

static void mark_dirty(struct presence *p, struct user_entry *u)
{
	long long now = clock_mono_ms();
	long long due = now + p->opts.coalesce_ms;

	if(u->dirty) return;
	if(u->last_pub && u->last_pub + p->opts.min_interval_ms > due) due = u->last_pub + p->opts.min_interval_ms;
	u->dirty = true;
	u->due = due;
	DL_APPEND(p->dirty, u);
}

/* After devices or status of u changed from state old (at wall time when):
 * updates since and last seen, and schedules a publication. */
static void user_changed(struct presence *p, struct user_entry *u, enum pstate old, long long when)
{
	enum pstate now_state = effective(u);

	if(now_state != old){
		u->since_ms = when;
		if(now_state == ST_OFFLINE){
			u->last_seen_ms = when;
			/* A chosen status lasts while connected. */
			u->status = ST_ONLINE;
			u->text[0] = '\0';
		}
	}
	mark_dirty(p, u);
}

static void publish_user(struct presence *p, struct user_entry *u)
{
	enum pstate state = effective(u);
	bool went_offline = state == ST_OFFLINE && (!u->pub_valid || u->pub_state != ST_OFFLINE);
	char topic[TOPIC_MAX], since[TIMEFMT_LEN], seen[TIMEFMT_LEN];
	cJSON *obj = NULL;
	char *text = NULL;

	if(u->pub_valid && u->pub_state == state && u->pub_devices == u->devices && !strcmp(u->pub_text, u->text)){
		p->stats.suppressed++;
		goto out;
	}
	if(topic_presence(topic, sizeof(topic), u->user)) goto out;
	if(!u->since_ms) u->since_ms = clock_wall_ms();
	if(state == ST_OFFLINE && !u->last_seen_ms) u->last_seen_ms = u->since_ms;
	timefmt_iso(u->since_ms, since);
	obj = cJSON_CreateObject();
	if(!obj) goto out;
	cJSON_AddStringToObject(obj, "user", u->user);
	cJSON_AddStringToObject(obj, "state", state_names[state]);
	cJSON_AddNumberToObject(obj, "devices", u->devices);
	cJSON_AddStringToObject(obj, "since", since);
	if(state == ST_OFFLINE){
		timefmt_iso(u->last_seen_ms, seen);
		cJSON_AddStringToObject(obj, "last_seen", seen);
	}else{
		cJSON_AddNullToObject(obj, "last_seen");
	}
	if(u->text[0]) cJSON_AddStringToObject(obj, "text", u->text);
	else cJSON_AddNullToObject(obj, "text");
	text = json_print(obj);
	if(!text) goto out;
	p->sink.publish(p->sink.ud, topic, text, 1, true);
	p->stats.published++;
	if(!u->pub_valid || u->pub_state != state) log_info("%s is %s (%u devices)", u->user, state_names[state], u->devices);
	u->pub_valid = true;
	u->pub_state = state;
	u->pub_devices = u->devices;
	snprintf(u->pub_text, sizeof(u->pub_text), "%s", u->text);
	u->pub_since_ms = u->since_ms;
	u->pub_last_seen_ms = u->last_seen_ms;
	u->last_pub = clock_mono_ms();
	if(went_offline) p->sink.last_seen(p->sink.ud, u->user, u->last_seen_ms);
out:
	cJSON_free(text);
	cJSON_Delete(obj);
}

/* ---- connections ------------------------------------------------------ */

static void conn_add(struct presence *p, struct node_entry *node, const char *conn_id, const char *user,
		const char *client, long long since)
{
	struct conn_entry *c = NULL;
	struct user_entry *u;
	enum pstate old;

	HASH_FIND_STR(p->conns, conn_id, c);
	if(c) return; /* a repeated event (QoS 1 redelivery) or already in a snapshot */
	u = user_get(p, user);
	c = calloc(1, sizeof(*c));
	if(!u || !c){
		free(c);
		log_error("out of memory adding a connection of %s", user);
		return;
	}
	snprintf(c->conn_id, sizeof(c->conn_id), "%s", conn_id);
	snprintf(c->user, sizeof(c->user), "%s", user);
	snprintf(c->client, sizeof(c->client), "%s", client ? client : "");
	c->node = node;
	c->id_hash = presence_id_hash(conn_id);
	c->since_ms = since ? since : clock_wall_ms();
	HASH_ADD_STR(p->conns, conn_id, c);
	node->conns++;
	node->digest ^= c->id_hash;
	old = effective(u);
	u->devices++;
	user_changed(p, u, old, clock_wall_ms());
}

/* Forgets connection c, which ended at wall time when. */
static void conn_remove(struct presence *p, struct conn_entry *c, long long when)
{
	struct user_entry *u = NULL;
	enum pstate old;

	HASH_FIND_STR(p->users, c->user, u);
	if(u && u->devices > 0){
		old = effective(u);
		u->devices--;
		user_changed(p, u, old, when);
	}
	c->node->conns--;
	c->node->digest ^= c->id_hash;
	HASH_DEL(p->conns, c);
	free(c);
}

/* Drops every connection of node, which ended at wall time when. */
static void node_drop_conns(struct presence *p, struct node_entry *node, long long when)
{
	struct conn_entry *c, *tmp;

	HASH_ITER(hh, p->conns, c, tmp){
		if(c->node == node) conn_remove(p, c, when);
	}
}

static void staging_clear(struct node_entry *node)
{
	struct staged_conn *s, *tmp;

	HASH_ITER(hh, node->staging, s, tmp){
		HASH_DEL(node->staging, s);
		free(s);
	}
	node->staging_next = 0;
}

/* ---- nodes ------------------------------------------------------------ */

static void request_sync(struct presence *p, struct node_entry *node)
{
	char topic[TOPIC_MAX], payload[64];
	long long now = clock_mono_ms();

	if(node->sync_pending && now - node->sync_sent < SYNC_RETRY_MS) return;
	if(topic_sys_sync(topic, sizeof(topic), node->name)) return;
	snprintf(payload, sizeof(payload), "{\"sync\":\"s%llu\"}", ++p->next_sync_id);
	node->sync_pending = true;
	node->sync_sent = now;
	p->stats.syncs_requested++;
	log_debug("asking node %s for a snapshot", node->name);
	p->sink.publish(p->sink.ud, topic, payload, 1, false);
}

/* Finds or creates the node named name and checks boot (hex). Returns the
 * node, or NULL when the message comes from an older boot than the one we
 * know (a stale message: ignore it). A newer boot means the node restarted:
 * every connection we had on it is gone. */
static struct node_entry *node_heard(struct presence *p, const char *name, const char *boot_hex)
{
	struct node_entry *node = NULL;
	unsigned long long boot;
	char *end = NULL;

	if(!boot_hex || !*boot_hex || strlen(boot_hex) > 16) return NULL;
	boot = strtoull(boot_hex, &end, 16);
	if(!end || *end || boot == 0) return NULL;
	HASH_FIND_STR(p->nodes, name, node);
	if(!node){
		node = calloc(1, sizeof(*node));
		if(!node) return NULL;
		snprintf(node->name, sizeof(node->name), "%s", name);
		node->boot = boot;
		HASH_ADD_STR(p->nodes, name, node);
		log_info("node %s first heard", name);
	}else if(boot < node->boot){
		return NULL;
	}else if(boot > node->boot){
		log_info("node %s restarted; dropping its %u connections", name, node->conns);
		node_drop_conns(p, node, clock_wall_ms());
		staging_clear(node);
		node->boot = boot;
		node->synced = false;
		node->sync_pending = false;
		node->lost = false;
		node->applied_seq = 0;
		node->seq_at_prev_hb = 0;
	}
	node->last_heard = clock_mono_ms();
	node->last_heard_wall = clock_wall_ms();
	if(node->lost){
		log_info("node %s is back; asking for its connections", name);
		node->lost = false;
		node->synced = false;
		node->sync_pending = false;
		request_sync(p, node);
	}
	return node;
}

static void node_lose(struct presence *p, struct node_entry *node)
{
	log_warn("node %s silent for %ld ms: its %u connections count as closed", node->name,
			(long)(clock_mono_ms() - node->last_heard), node->conns);
	node_drop_conns(p, node, node->last_heard_wall);
	staging_clear(node);
	node->lost = true;
	node->synced = false;
	node->sync_pending = false;
	p->stats.nodes_lost++;
}

static void on_heartbeat(struct presence *p, struct node_entry *node, const cJSON *event)
{
	long conns, seq;
	const char *digest_hex = json_get_str(event, "digest", 16);
	unsigned long long digest;
	char *end = NULL;
	bool progressed;

	p->stats.heartbeats++;
	if(json_get_long(event, "conns", -1, 0, 100000000L, &conns) || conns < 0 || !digest_hex
			|| json_get_long(event, "seq", 0, 0, 9007199254740991L, &seq)){
		return;
	}
	digest = strtoull(digest_hex, &end, 16);
	if(!end || *end) return;
	progressed = node->applied_seq != node->seq_at_prev_hb;
	node->seq_at_prev_hb = node->applied_seq;
	if(seq == node->applied_seq){
		/* We have applied every change the node made before this heartbeat:
		 * our view must agree exactly. */
		if((unsigned long)conns == node->conns && digest == node->digest){
			node->synced = true;
			node->mismatches = 0;
		}else{
			node->mismatches = 2;
			request_sync(p, node);
		}
		return;
	}
	if(!node->synced){
		/* First heard, back after being lost, or restarted: ask at once. */
		request_sync(p, node);
		return;
	}
	/* The heartbeat (QoS 0) overtook changes (QoS 1) still on their way:
	 * fine while they keep arriving; two heartbeats without progress mean
	 * some were lost. */
	if(progressed || seq < node->applied_seq){
		node->mismatches = 0;
		return;
	}
	if(++node->mismatches >= 2) request_sync(p, node);
}

/* Replaces our connections of node with the staged snapshot. */
static void reconcile(struct presence *p, struct node_entry *node)
{
	struct conn_entry *c, *ctmp;
	struct staged_conn *s, *stmp, *found;
	long long now = clock_wall_ms();
	unsigned int before = node->conns;

	HASH_ITER(hh, p->conns, c, ctmp){
		if(c->node != node) continue;
		found = NULL;
		HASH_FIND_STR(node->staging, c->conn_id, found);
		if(!found) conn_remove(p, c, now);
	}
	HASH_ITER(hh, node->staging, s, stmp){
		conn_add(p, node, s->conn_id, s->user, s->client, s->since_ms);
	}
	log_info("node %s synced: %u connections (had %u)", node->name, node->conns, before);
	staging_clear(node);
	node->synced = true;
	node->sync_pending = false;
	node->mismatches = 0;
}

static int on_snapshot(struct presence *p, struct node_entry *node, const cJSON *event)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(event, "conns");
	const cJSON *item;
	long part, parts;

	p->stats.snapshot_parts++;
	if(json_get_long(event, "part", 0, 1, 1000000, &part) || json_get_long(event, "parts", 0, 1, 1000000, &parts)
			|| part > parts || !cJSON_IsArray(list)){
		return -1;
	}
	if(part == 1){
		staging_clear(node);
		node->staging_next = 1;
	}
	if(part != node->staging_next){
		/* A part is missing: drop this snapshot; the next heartbeat asks again. */
		staging_clear(node);
		node->sync_pending = false;
		return -1;
	}
	cJSON_ArrayForEach(item, list){
		const char *conn_id = json_get_str(item, "conn", CONN_ID_MAX);
		const char *user = json_get_str(item, "user", NAME_USER_MAX);
		const char *client = json_get_str(item, "client", CLIENT_ID_MAX);
		long since = 0;
		struct staged_conn *s = NULL;

		if(!conn_id || !*conn_id || !user || !name_user_valid(user)) continue;
		json_get_long(item, "since", 0, 0, 9007199254740991L, &since);
		HASH_FIND_STR(node->staging, conn_id, s);
		if(s) continue;
		s = calloc(1, sizeof(*s));
		if(!s) continue;
		snprintf(s->conn_id, sizeof(s->conn_id), "%s", conn_id);
		snprintf(s->user, sizeof(s->user), "%s", user);
		snprintf(s->client, sizeof(s->client), "%s", client ? client : "");
		s->since_ms = since;
		HASH_ADD_STR(node->staging, conn_id, s);
	}
	node->staging_next++;
	if(part == parts){
		long seq = 0;

		reconcile(p, node);
		if(!json_get_long(event, "seq", 0, 0, 9007199254740991L, &seq)) node->applied_seq = seq;
	}
	return 0;
}

int presence_conn_message(struct presence *p, const char *node_name, const void *payload, size_t len)
{
	cJSON *event = NULL;
	const char *kind, *event_node, *conn_id, *user, *client;
	struct node_entry *node;
	struct conn_entry *c = NULL;
	long seq = 0;
	int rc = -1;

	event = json_parse_object(payload, len);
	if(!event) goto out;
	kind = json_get_str(event, "event", 16);
	event_node = json_get_str(event, "node", NAME_NODE_MAX);
	if(!kind || !event_node || strcmp(event_node, node_name)) goto out;
	node = node_heard(p, node_name, json_get_str(event, "boot", 16));
	if(!node){
		/* Stale (an older boot) or no valid boot: nothing to apply. */
		rc = json_get_str(event, "boot", 16) ? 0 : -1;
		goto out;
	}
	if(!strcmp(kind, "heartbeat")){
		on_heartbeat(p, node, event);
		rc = 0;
		goto out;
	}
	if(!strcmp(kind, "snapshot")){
		rc = on_snapshot(p, node, event);
		goto out;
	}
	p->stats.events++;
	if(json_get_long(event, "seq", 0, 0, 9007199254740991L, &seq)) goto out;
	/* A change at or before one already applied (or in an applied
	 * snapshot) is a redelivered duplicate: applying it again could bring
	 * back a connection that has ended. */
	if(seq && seq <= node->applied_seq){
		rc = 0;
		goto out;
	}
	if(seq) node->applied_seq = seq;
	conn_id = json_get_str(event, "conn", CONN_ID_MAX);
	user = json_get_str(event, "user", NAME_USER_MAX);
	client = json_get_str(event, "client", CLIENT_ID_MAX);
	if(!conn_id || !*conn_id || !user || !name_user_valid(user)) goto out;
	if(!strcmp(kind, "connect")){
		conn_add(p, node, conn_id, user, client, 0);
	}else if(!strcmp(kind, "disconnect")){
		HASH_FIND_STR(p->conns, conn_id, c);
		if(c) conn_remove(p, c, clock_wall_ms());
	}else{
		goto out;
	}
	rc = 0;
out:
	if(rc) p->stats.bad_input++;
	cJSON_Delete(event);
	return rc;
}

/* ---- the startup hold ------------------------------------------------- */

int presence_retained(struct presence *p, const char *user, const void *payload, size_t len)
{
	cJSON *obj = NULL;
	struct user_entry *u;
	const char *text;
	long devices = 0;
	enum pstate state;
	int rc = -1;

	obj = json_parse_object(payload, len);
	if(!obj) goto out;
	state = state_parse(json_get_str(obj, "state", 16));
	if((int)state < 0 || json_get_long(obj, "devices", 0, 0, 100000000L, &devices)) goto out;
	u = user_get(p, user);
	if(!u) goto out;
	text = json_get_str(obj, "text", STATUS_TEXT_MAX);
	if(!p->holding){
		/* Normally our own publication coming back. Anything else is a
		 * state we did not publish last: a hub restarted from an older
		 * save hands out stale retained presence. Publish ours again. */
		if(!u->pub_valid || u->pub_state != state || u->pub_devices != (unsigned int)devices
				|| strcmp(u->pub_text, text ? text : "")){
			p->stats.corrected++;
			u->pub_valid = false;
			mark_dirty(p, u);
		}
		rc = 0;
		goto out;
	}
	u->pub_valid = true;
	u->pub_state = state;
	u->pub_devices = (unsigned int)devices;
	snprintf(u->pub_text, sizeof(u->pub_text), "%s", text ? text : "");
	u->pub_since_ms = timefmt_parse_iso(json_get_str(obj, "since", TIMEFMT_LEN));
	u->pub_last_seen_ms = timefmt_parse_iso(json_get_str(obj, "last_seen", TIMEFMT_LEN));
	rc = 0;
out:
	if(rc) p->stats.bad_input++;
	cJSON_Delete(obj);
	return rc;
}

/* The hold is over: carry over what the retained states said where it
 * still holds (since, chosen status, last seen), then look at every user
 * once; only differences get published. */
static void end_hold(struct presence *p)
{
	struct user_entry *u, *tmp;
	unsigned int users = 0;

	p->holding = false;
	HASH_ITER(hh, p->users, u, tmp){
		users++;
		if(u->pub_valid){
			if(u->devices > 0 && u->status == ST_ONLINE && (u->pub_state == ST_AWAY || u->pub_state == ST_DND)){
				u->status = u->pub_state;
				snprintf(u->text, sizeof(u->text), "%s", u->pub_text);
			}
			if(effective(u) == u->pub_state && u->pub_since_ms) u->since_ms = u->pub_since_ms;
			if(!u->last_seen_ms || (effective(u) == ST_OFFLINE && u->pub_state == ST_OFFLINE)){
				if(u->pub_last_seen_ms) u->last_seen_ms = u->pub_last_seen_ms;
			}
		}
		if(!u->dirty){
			u->dirty = true;
			DL_APPEND(p->dirty, u);
		}
		u->due = 0;
	}
	log_info("startup hold over after %lld ms: %u users known, %zu connections on %u nodes",
			clock_mono_ms() - p->started, users, presence_connections(p), HASH_COUNT(p->nodes));
}

static bool hold_may_end(const struct presence *p, long long now)
{
	const struct node_entry *node, *tmp;

	if(now - p->started < p->opts.startup_hold_ms) return false;
	/* Give pending snapshots a little longer, but not forever. */
	if(now - p->started >= 3 * p->opts.startup_hold_ms) return true;
	HASH_ITER(hh, p->nodes, node, tmp){
		if(node->sync_pending) return false;
	}
	return true;
}

/* ---- typing ----------------------------------------------------------- */

int presence_typing(struct presence *p, const char *room, const char *user, const void *payload, size_t len)
{
	cJSON *obj = json_parse_object(payload, len);
	const cJSON *typing = cJSON_GetObjectItemCaseSensitive(obj, "typing");
	struct typing_entry *t = NULL;
	char key[sizeof(t->key)];
	int rc = -1;

	if(!cJSON_IsBool(typing)) goto out;
	rc = 0;
	/* Our own "expired" notice coming back: nothing to do. */
	if(cJSON_GetObjectItemCaseSensitive(obj, "expired")) goto out;
	snprintf(key, sizeof(key), "%s/%s", room, user);
	HASH_FIND_STR(p->typing, key, t);
	if(cJSON_IsFalse(typing)){
		if(t){
			HASH_DEL(p->typing, t);
			free(t);
		}
		goto out;
	}
	if(!t){
		t = calloc(1, sizeof(*t));
		if(!t) goto out;
		snprintf(t->key, sizeof(t->key), "%s", key);
		snprintf(t->room, sizeof(t->room), "%s", room);
		snprintf(t->user, sizeof(t->user), "%s", user);
		HASH_ADD_STR(p->typing, key, t);
	}
	t->expires = clock_mono_ms() + p->opts.typing_ttl_ms;
out:
	if(rc) p->stats.bad_input++;
	cJSON_Delete(obj);
	return rc;
}

static void expire_typing(struct presence *p, long long now)
{
	struct typing_entry *t, *tmp;
	char topic[TOPIC_MAX];

	HASH_ITER(hh, p->typing, t, tmp){
		if(t->expires > now) continue;
		if(!topic_room_typing(topic, sizeof(topic), t->room, t->user)){
			p->sink.publish(p->sink.ud, topic, "{\"typing\":false,\"expired\":true}", 0, false);
			p->stats.typing_expired++;
		}
		HASH_DEL(p->typing, t);
		free(t);
	}
}

/* ---- status, queries, timers ------------------------------------------ */

int presence_set_status(struct presence *p, const char *user, const char *state, const char *text)
{
	struct user_entry *u = NULL;
	enum pstate wanted = state_parse(state);
	enum pstate old;

	HASH_FIND_STR(p->users, user, u);
	if(!u || u->devices == 0 || wanted == ST_OFFLINE || (int)wanted < 0) return -1;
	old = effective(u);
	u->status = wanted;
	snprintf(u->text, sizeof(u->text), "%s", text ? text : "");
	user_changed(p, u, old, clock_wall_ms());
	return 0;
}

bool presence_get(const struct presence *p, const char *user, struct presence_view *view)
{
	struct user_entry *u = NULL;

	HASH_FIND_STR(p->users, user, u);
	memset(view, 0, sizeof(*view));
	view->state = state_names[ST_OFFLINE];
	view->text = "";
	if(!u) return false;
	view->state = state_names[effective(u)];
	view->devices = u->devices;
	view->text = u->text;
	view->since_ms = u->since_ms;
	view->last_seen_ms = u->last_seen_ms;
	return true;
}

size_t presence_devices(const struct presence *p, const char *user, size_t max,
		int (*fn)(void *ud, const char *client, const char *node, long long since_ms), void *ud)
{
	const struct conn_entry *c, *tmp;
	size_t calls = 0;

	HASH_ITER(hh, p->conns, c, tmp){
		if(calls >= max) break;
		if(strcmp(c->user, user)) continue;
		calls++;
		if(fn(ud, c->client, c->node->name, c->since_ms)) break;
	}
	return calls;
}

void presence_tick(struct presence *p, bool connected)
{
	long long now = clock_mono_ms();
	struct node_entry *node, *ntmp;
	struct user_entry *u, *utmp;

	if(connected && !p->connected) p->connected_since = now;
	p->connected = connected;
	if(p->holding && hold_may_end(p, now)) end_hold(p);
	if(connected && now - p->connected_since >= p->opts.node_timeout_ms){
		HASH_ITER(hh, p->nodes, node, ntmp){
			long long heard = node->last_heard > p->connected_since ? node->last_heard : p->connected_since;
			if(!node->lost && now - heard > p->opts.node_timeout_ms) node_lose(p, node);
		}
	}
	expire_typing(p, now);
	if(p->holding || !connected) return;
	DL_FOREACH_SAFE(p->dirty, u, utmp){
		if(u->due > now) continue;
		DL_DELETE(p->dirty, u);
		u->dirty = false;
		u->prev = u->next = NULL;
		publish_user(p, u);
	}
}

void presence_get_stats(const struct presence *p, struct presence_stats *stats)
{
	*stats = p->stats;
}

size_t presence_users_online(const struct presence *p)
{
	const struct user_entry *u, *tmp;
	size_t n = 0;

	HASH_ITER(hh, p->users, u, tmp){
		if(u->devices > 0) n++;
	}
	return n;
}

size_t presence_connections(const struct presence *p)
{
	return HASH_COUNT(p->conns);
}

void presence_free(struct presence *p)
{
	struct conn_entry *c, *ctmp;
	struct user_entry *u, *utmp;
	struct node_entry *n, *ntmp;
	struct typing_entry *t, *ttmp;

	if(!p) return;
	HASH_ITER(hh, p->conns, c, ctmp){
		HASH_DEL(p->conns, c);
		free(c);
	}
	HASH_ITER(hh, p->users, u, utmp){
		HASH_DEL(p->users, u);
		free(u);
	}
	HASH_ITER(hh, p->nodes, n, ntmp){
		staging_clear(n);
		HASH_DEL(p->nodes, n);
		free(n);
	}
	HASH_ITER(hh, p->typing, t, ttmp){
		HASH_DEL(p->typing, t);
		free(t);
	}
	free(p);
}
