/* clientid_owner.c: client id bindings; see clientid_owner.h. */
#include "clientid_owner.h"

#include <string.h>

#include <uthash.h>
#include <utlist.h>

#include "names.h"
#include "plugin_alloc.h"

#define CLIENTID_MAX 128

/* There is a binding for every connection, so it is kept small
 * (docs/BENCHMARKS.md, memory per idle connection): the client id and the
 * user name are stored at their length, one after the other; the
 * by-connection hash handle and the idle-list links share memory, since a
 * binding is either held or idle; and a user has a record of their own only
 * while they have idle bindings (to bound them per user). */
struct owner_user {
	UT_hash_handle hh;
	struct binding *idle;  /* this user's idle bindings, longest idle first */
	size_t idle_count;     /* >= 1: the record goes with the last one */
	char name[];           /* NUL-terminated */
};

struct binding {
	UT_hash_handle hh;         /* by id */
	const void *conn;          /* the connection holding the id, NULL when idle */
	union {
		UT_hash_handle hh_conn;    /* by conn, while held (conn set) */
		struct {                   /* while idle (conn NULL) */
			long long idle_since_ms;
			struct owner_user *owner;              /* the user's idle bindings */
			struct binding *user_prev, *user_next; /* in owner->idle */
			struct binding *all_prev, *all_next;   /* in owners->idle */
		};
	};
	char id[];                 /* the client id, NUL, the user name, NUL */
};

struct clientid_owners {
	long long hold_ms;
	size_t max_idle;
	size_t per_user_idle;
	struct binding *by_id;
	struct binding *by_conn;
	struct binding *idle;      /* every idle binding, longest idle first */
	size_t idle_count;
	struct owner_user *users;  /* users with idle bindings */
};

static const char *binding_user(const struct binding *b)
{
	return b->id + strlen(b->id) + 1;
}

struct clientid_owners *clientid_owners_new(long long hold_ms, size_t max_idle, size_t per_user_idle)
{
	struct clientid_owners *owners = plugin_calloc(1, sizeof(*owners));

	if(!owners) return NULL;
	owners->hold_ms = hold_ms;
	owners->max_idle = max_idle;
	owners->per_user_idle = per_user_idle;
	return owners;
}

/* Takes idle b off both idle lists; its user's record goes with their last
 * idle binding. */
static void idle_unlink(struct clientid_owners *owners, struct binding *b)
{
	struct owner_user *owner = b->owner;

	DL_DELETE2(owner->idle, b, user_prev, user_next);
	DL_DELETE2(owners->idle, b, all_prev, all_next);
	owners->idle_count--;
	if(--owner->idle_count == 0){
		HASH_DEL(owners->users, owner);
		plugin_free(owner);
	}
}

static void drop(struct clientid_owners *owners, struct binding *b)
{
	HASH_DEL(owners->by_id, b);
	if(b->conn){
		HASH_DELETE(hh_conn, owners->by_conn, b);
	}else{
		idle_unlink(owners, b);
	}
	plugin_free(b);
}

/* Makes a held binding idle from now_ms, then keeps the idle ones within
 * their bounds. Out of memory for the user's record, the binding is
 * forgotten (the id is free again), as the bounds would do. */
static void make_idle(struct clientid_owners *owners, struct binding *b, long long now_ms)
{
	const char *name = binding_user(b);
	struct owner_user *owner = NULL;

	HASH_FIND_STR(owners->users, name, owner);
	if(!owner){
		owner = plugin_calloc(1, sizeof(*owner) + strlen(name) + 1);
		if(!owner){
			drop(owners, b);
			return;
		}
		memcpy(owner->name, name, strlen(name) + 1);
		HASH_ADD_STR(owners->users, name, owner);
	}
	HASH_DELETE(hh_conn, owners->by_conn, b);
	b->conn = NULL;
	b->idle_since_ms = now_ms;
	b->owner = owner;
	DL_APPEND2(owner->idle, b, user_prev, user_next);
	DL_APPEND2(owners->idle, b, all_prev, all_next);
	owner->idle_count++;
	owners->idle_count++;
	/* The user's record is freed with their last idle binding: stop there. */
	while(owner->idle_count > owners->per_user_idle){
		bool last = owner->idle_count == 1;

		drop(owners, owner->idle);
		if(last) break;
	}
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
	return binding_user(b);
}

int clientid_owners_connected(struct clientid_owners *owners, const char *client_id, const char *user,
		const void *conn, long long now_ms)
{
	struct binding *b = NULL, *stale = NULL;
	const char *bound;
	size_t id_len, user_len;
	int rc = -1;

	if(!owners || !client_id || !user || !conn) goto out;
	id_len = strlen(client_id);
	user_len = strlen(user);
	if(id_len > CLIENTID_MAX || user_len > NAME_USER_MAX) goto out;
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
		b = plugin_calloc(1, sizeof(*b) + id_len + 1 + user_len + 1);
		if(!b) goto out;
		memcpy(b->id, client_id, id_len + 1);
		memcpy(b->id + id_len + 1, user, user_len + 1);
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
		fn(arg, b->id, binding_user(b), b->conn ? -1 : b->idle_since_ms);
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
