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

enum user_role { ROLE_USER = 0, ROLE_SERVICE, ROLE_BRIDGE, ROLE_ADMIN };

struct member_room {
	char room[NAME_ROOM_MAX + 1];
	UT_hash_handle hh;
};

struct snapshot_user {
	char name[NAME_USER_MAX + 1];
	char pw_hash[PWHASH_MAX_LEN];
	enum user_role role;
	bool disabled;
	struct member_room *rooms;   /* uthash set of room names */
	UT_hash_handle hh;
};

struct snapshot {
	unsigned long long version;  /* auth_version.version it was read at */
	struct snapshot_user *users; /* uthash by name */
	unsigned long user_count;
	unsigned long membership_count;
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

/* Looks a user up; the result belongs to snap. NULL when unknown. */
const struct snapshot_user *snapshot_user(const struct snapshot *snap, const char *name);

/* True when user (already looked up) is a member of room. */
bool snapshot_is_member(const struct snapshot_user *user, const char *room);

/* True for roles that bypass chat rules (services, bridges, admins). */
bool role_is_privileged(enum user_role role);

/* Frees snap and all it holds; NULL allowed. */
void snapshot_free(struct snapshot *snap);

#endif
