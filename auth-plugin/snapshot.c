/* snapshot.c: in-memory users and memberships for the auth plugin.
 * Built by the loader thread with plain calloc (mosquitto's allocator keeps
 * counters that are not thread-safe in 2.0), read by the broker thread. */
#include "snapshot.h"

#include <stdlib.h>
#include <string.h>

struct snapshot *snapshot_new(unsigned long long version)
{
	struct snapshot *snap = calloc(1, sizeof(*snap));

	if(snap) snap->version = version;
	return snap;
}

static int role_parse(const char *role, enum user_role *out)
{
	static const struct { const char *name; enum user_role role; } roles[] = {
		{ "user", ROLE_USER }, { "service", ROLE_SERVICE },
		{ "bridge", ROLE_BRIDGE }, { "admin", ROLE_ADMIN },
	};

	for(size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++){
		if(!strcmp(role, roles[i].name)){
			*out = roles[i].role;
			return 0;
		}
	}
	return -1;
}

int snapshot_add_user(struct snapshot *snap, const char *name, const char *pw_hash,
		const char *role, bool disabled)
{
	struct snapshot_user *user = NULL;
	enum user_role parsed;

	if(!name_user_valid(name) || !pw_hash || strlen(pw_hash) >= PWHASH_MAX_LEN) return -1;
	if(role_parse(role, &parsed)) return -1;
	HASH_FIND_STR(snap->users, name, user);
	if(!user){
		user = calloc(1, sizeof(*user));
		if(!user) return -1;
		strcpy(user->name, name); /* length checked by name_user_valid */
		HASH_ADD_STR(snap->users, name, user);
		snap->user_count++;
	}
	memcpy(user->pw_hash, pw_hash, strlen(pw_hash) + 1);
	user->role = parsed;
	user->disabled = disabled;
	return 0;
}

int snapshot_add_member(struct snapshot *snap, const char *room, const char *user_name)
{
	struct snapshot_user *user = NULL;
	struct member_room *entry = NULL;

	if(!name_room_valid(room)) return -1;
	HASH_FIND_STR(snap->users, user_name, user);
	if(!user) return -1;
	HASH_FIND_STR(user->rooms, room, entry);
	if(entry) return 0;
	entry = calloc(1, sizeof(*entry));
	if(!entry) return -1;
	strcpy(entry->room, room); /* length checked by name_room_valid */
	HASH_ADD_STR(user->rooms, room, entry);
	snap->membership_count++;
	return 0;
}

const struct snapshot_user *snapshot_user(const struct snapshot *snap, const char *name)
{
	struct snapshot_user *user = NULL;

	if(!snap || !name) return NULL;
	HASH_FIND_STR(snap->users, name, user);
	return user;
}

bool snapshot_is_member(const struct snapshot_user *user, const char *room)
{
	struct member_room *entry = NULL;

	if(!user) return false;
	HASH_FIND_STR(user->rooms, room, entry);
	return entry != NULL;
}

bool role_is_privileged(enum user_role role)
{
	return role != ROLE_USER;
}

void snapshot_free(struct snapshot *snap)
{
	struct snapshot_user *user, *user_tmp;
	struct member_room *room, *room_tmp;

	if(!snap) return;
	HASH_ITER(hh, snap->users, user, user_tmp){
		HASH_ITER(hh, user->rooms, room, room_tmp){
			HASH_DEL(user->rooms, room);
			free(room);
		}
		HASH_DEL(snap->users, user);
		memset(user->pw_hash, 0, sizeof(user->pw_hash));
		free(user);
	}
	free(snap);
}
