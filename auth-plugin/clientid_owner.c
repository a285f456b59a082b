/* clientid_owner.c: client id bindings; see clientid_owner.h. */
#include "clientid_owner.h"

#include <stdio.h>
#include <string.h>

#include <uthash.h>
#include <utlist.h>

#include "names.h"
#include "plugin_alloc.h"

#define CLIENTID_MAX 128

struct owner_user {
	char name[NAME_USER_MAX + 1];
	struct binding *idle;  /* this user's idle bindings, longest idle first */
	size_t idle_count;
	size_t total;
	UT_hash_handle hh;
};

struct binding {
	char id[CLIENTID_MAX + 1];
	struct owner_user *user;
	const void *conn;          /* the connection holding the id, NULL when idle */
	long long idle_since_ms;
	struct binding *user_prev, *user_next; /* in user->idle */
	struct binding *all_prev, *all_next;   /* in owners->idle */
	UT_hash_handle hh;         /* by id */
	UT_hash_handle hh_conn;    /* by conn, while held */
};

struct clientid_owners {
	long long hold_ms;
	size_t max_idle;
	size_t per_user_idle;
	struct binding *by_id;
	struct binding *by_conn;
	struct binding *idle;      /* every idle binding, longest idle first */
	size_t idle_count;
	struct owner_user *users;
};

struct clientid_owners *clientid_owners_new(long long hold_ms, size_t max_idle, size_t per_user_idle)
{
	struct clientid_owners *owners = plugin_calloc(1, sizeof(*owners));

	if(!owners) return NULL;
	owners->hold_ms = hold_ms;
	owners->max_idle = max_idle;
	owners->per_user_idle = per_user_idle;
	return owners;
}

static void idle_unlink(struct clientid_owners *owners, struct binding *b)
{
	DL_DELETE2(b->user->idle, b, user_prev, user_next);
	DL_DELETE2(owners->idle, b, all_prev, all_next);
	b->user->idle_count--;
	owners->idle_count--;
}

static void drop(struct clientid_owners *owners, struct binding *b)
{
	struct owner_user *user = b->user;

	HASH_DEL(owners->by_id, b);
	if(b->conn){
		HASH_DELETE(hh_conn, owners->by_conn, b);
	}else{
		idle_unlink(owners, b);
	}
	if(--user->total == 0){
		HASH_DEL(owners->users, user);
		plugin_free(user);
	}
	plugin_free(b);
}

/* Makes a held binding idle from now_ms, then keeps the idle ones within
 * their bounds. */
static void make_idle(struct clientid_owners *owners, struct binding *b, long long now_ms)
{
	struct owner_user *user = b->user;

	HASH_DELETE(hh_conn, owners->by_conn, b);
	b->conn = NULL;
	b->idle_since_ms = now_ms;
	DL_APPEND2(user->idle, b, user_prev, user_next);
	DL_APPEND2(owners->idle, b, all_prev, all_next);
	user->idle_count++;
	owners->idle_count++;
	while(user->idle_count > owners->per_user_idle) drop(owners, user->idle);
	while(owners->idle_count > owners->max_idle) drop(owners, owners->idle);
}

static bool expired(const struct clientid_owners *owners, const struct binding *b, long long now_ms)
{
	return !b->conn && now_ms - b->idle_since_ms > owners->hold_ms;
}

const char *clientid_owners_owner(struct clientid_owners *owners, const char *client_id, long long now_ms)
{
	struct binding *b = NULL;

	if(!owners || !client_id) return NULL;
	HASH_FIND_STR(owners->by_id, client_id, b);
	if(!b) return NULL;
	if(expired(owners, b, now_ms)){
		drop(owners, b);
		return NULL;
	}
	return b->user->name;
}

int clientid_owners_connected(struct clientid_owners *owners, const char *client_id, const char *user,
		const void *conn, long long now_ms)
{
	struct binding *b = NULL, *stale = NULL;
	struct owner_user *owner = NULL;
	const char *bound;
	int rc = -1;

	if(!owners || !client_id || !user || !conn) goto out;
	if(strlen(client_id) > CLIENTID_MAX || strlen(user) > NAME_USER_MAX) goto out;
	bound = clientid_owners_owner(owners, client_id, now_ms);
	if(bound && strcmp(bound, user)) goto out;
	/* The same context pointer still holding an id means the broker reused
	 * it without telling us the old connection ended: that one is over. */
	HASH_FIND(hh_conn, owners->by_conn, &conn, sizeof(conn), stale);
	if(stale) make_idle(owners, stale, now_ms);
	HASH_FIND_STR(owners->by_id, client_id, b);
	if(b){
		if(b->conn){
			HASH_DELETE(hh_conn, owners->by_conn, b); /* taken over by conn */
		}else{
			idle_unlink(owners, b);
		}
	}else{
		HASH_FIND_STR(owners->users, user, owner);
		if(!owner){
			owner = plugin_calloc(1, sizeof(*owner));
			if(!owner) goto out;
			snprintf(owner->name, sizeof(owner->name), "%s", user);
			HASH_ADD_STR(owners->users, name, owner);
		}
		b = plugin_calloc(1, sizeof(*b));
		if(!b){
			if(owner->total == 0){
				HASH_DEL(owners->users, owner);
				plugin_free(owner);
			}
			goto out;
		}
		snprintf(b->id, sizeof(b->id), "%s", client_id);
		b->user = owner;
		owner->total++;
		HASH_ADD_STR(owners->by_id, id, b);
	}
	b->conn = conn;
	HASH_ADD(hh_conn, owners->by_conn, conn, sizeof(b->conn), b);
	rc = 0;
out:
	return rc;
}

void clientid_owners_disconnected(struct clientid_owners *owners, const void *conn, long long now_ms)
{
	struct binding *b = NULL;

	if(!owners || !conn) return;
	HASH_FIND(hh_conn, owners->by_conn, &conn, sizeof(conn), b);
	if(b) make_idle(owners, b, now_ms);
}

int clientid_owners_restore(struct clientid_owners *owners, const char *client_id, const char *user,
		long long idle_since_ms)
{
	struct binding *b = NULL;
	int rc = -1;

	if(!owners || !client_id || !user || !name_clientid_valid(client_id) || !name_user_valid(user)) goto out;
	HASH_FIND_STR(owners->by_id, client_id, b);
	if(b){
		rc = 0;
		goto out;
	}
	/* Bound through a connection that ends at once: the same bookkeeping
	 * and bounds as any binding going idle. */
	if(clientid_owners_connected(owners, client_id, user, owners, idle_since_ms)) goto out;
	clientid_owners_disconnected(owners, owners, idle_since_ms);
	rc = 0;
out:
	return rc;
}

void clientid_owners_each(const struct clientid_owners *owners,
		void (*fn)(void *arg, const char *client_id, const char *user, long long idle_since_ms), void *arg)
{
	const struct binding *b, *tmp;

	if(!owners) return;
	HASH_ITER(hh, owners->by_id, b, tmp){
		fn(arg, b->id, b->user->name, b->conn ? -1 : b->idle_since_ms);
	}
}

void clientid_owners_expire(struct clientid_owners *owners, long long now_ms)
{
	if(!owners) return;
	/* The global idle list is in the order bindings went idle. */
	while(owners->idle && expired(owners, owners->idle, now_ms)) drop(owners, owners->idle);
}

size_t clientid_owners_size(const struct clientid_owners *owners)
{
	return owners ? HASH_COUNT(owners->by_id) : 0;
}

void clientid_owners_free(struct clientid_owners *owners)
{
	struct binding *b, *tmp;

	if(!owners) return;
	HASH_ITER(hh, owners->by_id, b, tmp){
		drop(owners, b);
	}
	plugin_free(owners);
}
