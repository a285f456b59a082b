/* presence_table.c: users and their open connections, the state and
 * last_seen they show, and which users are due for publication; the
 * queries of presence.h. Calls nothing else of presence-svc (see
 * presence_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utlist.h>

#include "fnv.h"
#include "log.h"
#include "presence_int.h"

const char *const presence_state_names[4] = { "offline", "online", "away", "dnd" };

enum pstate presence_table__effective(const struct user_entry *u)
{
	return u->devices == 0 ? ST_OFFLINE : u->status;
}

enum pstate presence_table__state_parse(const char *name)
{
	for(int i = 0; i < 4; i++){
		if(name && !strcmp(name, presence_state_names[i])) return (enum pstate)i;
	}
	return (enum pstate)-1;
}

struct user_entry *presence_table__user(struct presence *p, const char *name)
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

void presence_table__mark_dirty(struct presence *p, struct user_entry *u)
{
	long long due = presence_mono(p) + p->opts.coalesce_ms;

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
	enum pstate now_state = presence_table__effective(u);

	if(now_state != old){
		u->since_ms = when;
		if(now_state == ST_OFFLINE){
			u->last_seen_ms = when;
			/* A chosen status lasts while connected. */
			u->status = ST_ONLINE;
			u->text[0] = '\0';
		}
	}
	presence_table__mark_dirty(p, u);
}

void presence_table__conn_add(struct presence *p, struct node_entry *node, const struct conn_event_conn *conn)
{
	struct conn_entry *c = NULL;
	struct user_entry *u;
	enum pstate old;

	HASH_FIND_STR(p->conns, conn->conn, c);
	if(c) return; /* a repeated event (QoS 1 redelivery) or already in a snapshot */
	u = presence_table__user(p, conn->user);
	c = calloc(1, sizeof(*c));
	if(!u || !c){
		free(c);
		log_error("out of memory adding a connection of %s", conn->user);
		return;
	}
	snprintf(c->conn_id, sizeof(c->conn_id), "%s", conn->conn);
	snprintf(c->user, sizeof(c->user), "%s", conn->user);
	snprintf(c->client, sizeof(c->client), "%s", conn->client);
	c->node = node;
	c->id_hash = fnv1a64_str(conn->conn);
	c->since_ms = conn->since_ms ? conn->since_ms : presence_wall(p);
	HASH_ADD_STR(p->conns, conn_id, c);
	node->conns++;
	node->digest ^= c->id_hash;
	old = presence_table__effective(u);
	u->devices++;
	user_changed(p, u, old, presence_wall(p));
}

struct conn_entry *presence_table__conn_find(struct presence *p, const char *conn_id)
{
	struct conn_entry *c = NULL;

	HASH_FIND_STR(p->conns, conn_id, c);
	return c;
}

void presence_table__conn_remove(struct presence *p, struct conn_entry *c, long long when)
{
	struct user_entry *u = NULL;
	enum pstate old;

	HASH_FIND_STR(p->users, c->user, u);
	if(u && u->devices > 0){
		old = presence_table__effective(u);
		u->devices--;
		user_changed(p, u, old, when);
	}
	c->node->conns--;
	c->node->digest ^= c->id_hash;
	HASH_DEL(p->conns, c);
	free(c);
}

void presence_table__drop_node(struct presence *p, struct node_entry *node, long long when)
{
	struct conn_entry *c, *tmp;

	HASH_ITER(hh, p->conns, c, tmp){
		if(c->node == node) presence_table__conn_remove(p, c, when);
	}
}

void presence_table__free(struct presence *p)
{
	struct conn_entry *c, *ctmp;
	struct user_entry *u, *utmp;

	HASH_ITER(hh, p->conns, c, ctmp){
		HASH_DEL(p->conns, c);
		free(c);
	}
	HASH_ITER(hh, p->users, u, utmp){
		HASH_DEL(p->users, u);
		free(u);
	}
	p->dirty = NULL;
}

/* ---- the queries of presence.h ---------------------------------------- */

int presence_set_status(struct presence *p, const char *user, const char *state, const char *text)
{
	struct user_entry *u = NULL;
	enum pstate wanted = presence_table__state_parse(state);
	enum pstate old;

	HASH_FIND_STR(p->users, user, u);
	if(!u || u->devices == 0 || wanted == ST_OFFLINE || (int)wanted < 0) return -1;
	old = presence_table__effective(u);
	u->status = wanted;
	snprintf(u->text, sizeof(u->text), "%s", text ? text : "");
	user_changed(p, u, old, presence_wall(p));
	return 0;
}

bool presence_get(const struct presence *p, const char *user, struct presence_view *view)
{
	struct user_entry *u = NULL;

	HASH_FIND_STR(p->users, user, u);
	memset(view, 0, sizeof(*view));
	view->state = presence_state_names[ST_OFFLINE];
	view->text = "";
	if(!u) return false;
	view->state = presence_state_names[presence_table__effective(u)];
	view->devices = u->devices;
	view->text = u->text;
	view->since_ms = u->since_ms;
	/* What we remember is the previous disconnect, which does not hold
	 * while a connection is open. */
	view->last_seen_ms = u->devices > 0 ? 0 : u->last_seen_ms;
	return true;
}

long long presence_reported_last_seen(const struct presence_view *view, long long fallback_ms)
{
	if(view->devices > 0) return 0;
	return view->last_seen_ms ? view->last_seen_ms : fallback_ms;
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
