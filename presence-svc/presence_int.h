/* presence_int.h: what the pieces of presence-svc's state machine share
 * (private; presence.h is the interface). A message flows one way:
 *   presence_nodes.c   connection events in: nodes, heartbeats, snapshots
 *        |                 (reads payloads with conn_event.c)
 *        v
 *   presence_table.c   users and their connections, what last_seen says,
 *        ^                 which users are due for publication
 *        |
 *   presence_publish.c retained presence out, the startup hold
 *   presence_typing.c  typing indicators in, "expired" notices out
 *   presence.c         creation, the timers (presence_tick), counters
 * presence.c calls the others; nodes and publish call only the table; the
 * table calls none of them. */
#ifndef PRESENCE_INT_H
#define PRESENCE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <uthash.h>

#include "conn_event.h"
#include "names.h"
#include "presence.h"

#define STATUS_TEXT_MAX 100
#define SYNC_RETRY_MS 3000

enum pstate { ST_OFFLINE = 0, ST_ONLINE, ST_AWAY, ST_DND };
extern const char *const presence_state_names[4];

struct node_entry;

struct conn_entry {
	char conn_id[CONN_EV_ID_MAX + 1];
	char user[NAME_USER_MAX + 1];
	char client[CONN_EV_CLIENT_MAX + 1];
	struct node_entry *node;
	uint64_t id_hash;
	long long since_ms;
	UT_hash_handle hh;
};

/* A connection listed in a snapshot that is still coming in. */
struct staged_conn {
	struct conn_event_conn conn;
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
	long staging_next;          /* the part expected next; 0: none in progress */
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

static inline long long presence_mono(const struct presence *p)
{
	return p->opts.mono_ms();
}

static inline long long presence_wall(const struct presence *p)
{
	return p->opts.wall_ms();
}

/* ---- presence_table.c ---- */

/* u's state as others see it: offline without a connection. */
enum pstate presence_table__effective(const struct user_entry *u);
/* The state named name, or -1 for none. */
enum pstate presence_table__state_parse(const char *name);
/* The entry of user name, created (online, no connection) when missing;
 * NULL when out of memory. Owned by p. */
struct user_entry *presence_table__user(struct presence *p, const char *name);
/* Puts u on the dirty list, due after coalescing and the minimum interval. */
void presence_table__mark_dirty(struct presence *p, struct user_entry *u);
/* Adds connection conn of node unless it is known (a repeated event).
 * since_ms 0 means now. */
void presence_table__conn_add(struct presence *p, struct node_entry *node, const struct conn_event_conn *conn);
/* The connection with id conn_id, or NULL. */
struct conn_entry *presence_table__conn_find(struct presence *p, const char *conn_id);
/* Forgets connection c (freed), which ended at wall time when. */
void presence_table__conn_remove(struct presence *p, struct conn_entry *c, long long when);
/* Forgets every connection of node, which ended at wall time when. */
void presence_table__drop_node(struct presence *p, struct node_entry *node, long long when);
/* Frees every user and connection. */
void presence_table__free(struct presence *p);

/* ---- presence_nodes.c ---- */

/* Declares silent nodes lost (their connections closed at their last
 * heartbeat); call only while the broker connection is up. */
void presence_nodes__lose_silent(struct presence *p, long long now);
/* Whether a snapshot asked of some node has not fully arrived. */
bool presence_nodes__sync_pending(const struct presence *p);
/* Frees every node. */
void presence_nodes__free(struct presence *p);

/* ---- presence_publish.c ---- */

/* Ends the startup hold: carries over what the retained states said. */
void presence_publish__end_hold(struct presence *p);
/* Publishes the dirty users that are due at now. */
void presence_publish__due(struct presence *p, long long now);

/* ---- presence_typing.c ---- */

/* Publishes "expired" for indicators not renewed in time and forgets them. */
void presence_typing__expire(struct presence *p, long long now);
/* Frees every indicator. */
void presence_typing__free(struct presence *p);

#endif
