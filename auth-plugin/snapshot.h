/* snapshot.h: the plugin's in-memory copy of users, roles and room
 * memberships. A snapshot is built whole by the loader thread and then only
 * read by the broker thread, so every login and ACL decision is answered
 * from memory with hash lookups (O(1)), never from the database. */
#ifndef AUTH_SNAPSHOT_H
#define AUTH_SNAPSHOT_H

#include <stdbool.h>

#include <uthash.h>

#include "names.h"
#include "pwhash.h"
#include "token.h"

/* ROLE_HEALTH: the health agents' account (health-agent/), which may use
 * only its own probe topics (acl.c) and is not privileged. */
enum user_role { ROLE_USER = 0, ROLE_SERVICE, ROLE_BRIDGE, ROLE_ADMIN, ROLE_HEALTH };

/* A room name, stored once per snapshot however many members it has. */
struct snapshot_room {
	char name[NAME_ROOM_MAX + 1];
	UT_hash_handle hh;
};

/* Laid out for the ACL check, which runs for every delivery: everything it
 * reads (name, role, disabled, the membership count and array) is in the
 * record's first 64 bytes, which start a cache line; the hash handle and the
 * password hash (read only at login and reload) come after. A user's
 * memberships are one block sorted by the room name's hash: the hashes
 * (sixteen rooms fit one cache line), then the interned names, compared only
 * on a hash match. */
struct snapshot_user {
	char name[NAME_USER_MAX + 1];
	bool disabled;
	enum user_role role;
	unsigned room_count;
	unsigned room_cap;
	unsigned *room_hashes; /* room_cap hashes, then room_cap name pointers */
	/* cold: */
	unsigned name_hash;
	UT_hash_handle hh;
	char pw_hash[PWHASH_MAX_LEN];
};

/* One entry of the users' lookup index: the name's hash and where the
 * user's record and membership block are, so that a lookup can fetch both
 * at once (snapshot.c). */
struct snapshot_user_slot {
	unsigned name_hash;
	const unsigned *room_hashes;
	const struct snapshot_user *user;
};

/* What a token's scope lets its connections do (docs/ADMIN.md, "Tokens"):
 * TOKEN_SCOPE_NONE is the user's own rights; the others limit the
 * connection to the token's rooms, both ways, publishing only, or reading
 * only. */
enum token_scope { TOKEN_SCOPE_NONE = 0, TOKEN_SCOPE_FULL, TOKEN_SCOPE_PUBLISH, TOKEN_SCOPE_READ };

/* A login token that is not revoked (token.h), found by its public id. */
struct snapshot_token {
	UT_hash_handle hh;
	char id[TOKEN_ID_LEN + 1];
	unsigned char hash[TOKEN_HASH_LEN]; /* SHA-256 of the secret */
	const struct snapshot_user *user;   /* belongs to the same snapshot */
	long long expires_ms;               /* wall clock, ms since the epoch; 0: never */
	enum token_scope scope;
	unsigned room_count;
	const struct snapshot_room *rooms[TOKEN_SCOPE_ROOMS_MAX];
};

struct snapshot {
	unsigned long long version;  /* auth_version.version it was read at */
	struct snapshot_user *users; /* uthash by name (building, iterating) */
	struct snapshot_room *rooms; /* uthash by name: every room with a member or in a token's scope */
	struct snapshot_token *tokens; /* uthash by id */
	/* The lookup path: open addressing with linear probing, at most half
	 * full, index_mask + 1 slots (a power of two); NULL while empty. */
	struct snapshot_user_slot *user_index;
	unsigned long index_mask;
	struct snapshot_chunk *chunks; /* where the above live (snapshot.c) */
	unsigned long user_count;
	unsigned long membership_count;
	unsigned long token_count;
};

/* Returns a new empty snapshot (caller frees with snapshot_free) or NULL. */
struct snapshot *snapshot_new(unsigned long long version);

/* Adds or replaces a user. Returns 0, or -1 for an invalid name, a hash too
 * long, an unknown role name or out of memory. */
int snapshot_add_user(struct snapshot *snap, const char *name, const char *pw_hash,
		const char *role, bool disabled);

/* Records that user is a member of room. Returns 0, or -1 when the user is
 * unknown, a name is invalid or memory runs out. */
int snapshot_add_member(struct snapshot *snap, const char *room, const char *user);

/* Adds a token of user (already added) with its id, the hex SHA-256 of its
 * secret, its expiry (0: never), scope mode ("full", "publish", "read") and
 * scope rooms (comma-separated, or NULL for no scope). Returns 0, or -1 when
 * something is invalid (the token is then left out: it cannot log in) or
 * memory runs out. */
int snapshot_add_token(struct snapshot *snap, const char *id, const char *user, const char *hash_hex,
		long long expires_ms, const char *scope_rooms, const char *scope_mode);

/* Looks a token up by id; the result belongs to snap. NULL when unknown. */
const struct snapshot_token *snapshot_token(const struct snapshot *snap, const char *id);

/* True when room is one of tok's scope rooms (at most TOKEN_SCOPE_ROOMS_MAX
 * compares). */
bool snapshot_token_has_room(const struct snapshot_token *tok, const char *room);

/* Looks a user up; the result belongs to snap. NULL when unknown. About two
 * cache misses one after the other however large snap is: the index slot,
 * then the record and its membership block together. */
const struct snapshot_user *snapshot_user(const struct snapshot *snap, const char *name);

/* True when user (already looked up) is a member of room: a binary search
 * in the user's block, the interned name read only on a hash match. */
bool snapshot_is_member(const struct snapshot_user *user, const char *room);

/* True for roles that bypass chat rules (services, bridges, admins; not
 * users nor the health account). */
bool role_is_privileged(enum user_role role);

/* Frees snap and all it holds; NULL allowed. */
void snapshot_free(struct snapshot *snap);

#endif
