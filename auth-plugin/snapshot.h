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

/* Laid out for the ACL check, which runs for every delivery: the hash
 * handle, name and membership arrays come first, the password hash (read
 * only at login) last. A user's memberships are two arrays sorted together
 * by the room name's hash: the hashes (ten rooms fit one cache line) and
 * the interned names, compared only on a hash match. */
struct snapshot_user {
	UT_hash_handle hh;
	unsigned *room_hashes;
	const struct snapshot_room **room_names;
	unsigned room_count, room_cap;
	enum user_role role;
	bool disabled;
	char name[NAME_USER_MAX + 1];
	char pw_hash[PWHASH_MAX_LEN];
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
	struct snapshot_user *users; /* uthash by name */
	struct snapshot_room *rooms; /* uthash by name: every room with a member or in a token's scope */
	struct snapshot_token *tokens; /* uthash by id */
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

/* Looks a user up; the result belongs to snap. NULL when unknown. */
const struct snapshot_user *snapshot_user(const struct snapshot *snap, const char *name);

/* True when user (already looked up) is a member of room. */
bool snapshot_is_member(const struct snapshot_user *user, const char *room);

/* True for roles that bypass chat rules (services, bridges, admins; not
 * users nor the health account). */
bool role_is_privileged(enum user_role role);

/* Frees snap and all it holds; NULL allowed. */
void snapshot_free(struct snapshot *snap);

#endif
