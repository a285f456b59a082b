/* snapshot.c: in-memory users and memberships for the auth plugin.
 * Built by the loader thread with plain malloc (mosquitto's allocator keeps
 * counters that are not thread-safe in 2.0), read by the broker thread. */
/* Lookups on the broker thread go through the snapshot's own index (an
 * open-addressing array, snapshot.h); the uthash tables serve building,
 * interning and iterating. */
#include "snapshot.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* The snapshot's memory: users, membership blocks, interned rooms and the
 * user index are carved from a few large chunks, freed together. At
 * 1,000,000 memberships the snapshot spans ~100 MB and every ACL decision
 * touches three or four random places in it: with 4 KiB pages each is also
 * a TLB miss and a page walk, which cost as much as the cache misses
 * (docs/BENCHMARKS.md, (8)). Chunks of 2 MiB and more are aligned to 2 MiB
 * and marked for transparent huge pages, which the kernel honours in its
 * default "madvise" mode. */
struct snapshot_chunk {
	struct snapshot_chunk *next;
	size_t used, size;
};

#define CHUNK_FIRST (64UL << 10)
#define CHUNK_MAX (64UL << 20)
#define HUGE_PAGE (2UL << 20)

/* size bytes aligned to align (a power of two, at most 64) from snap's
 * chunks, not zeroed; NULL when out of memory. Freed by snapshot_free. */
static void *arena_alloc(struct snapshot *snap, size_t size, size_t align)
{
	struct snapshot_chunk *chunk = snap->chunks;
	size_t header = (sizeof(*chunk) + 63) / 64 * 64, at;

	if(chunk){
		at = (chunk->used + align - 1) & ~(align - 1);
		if(at + size <= chunk->size){
			chunk->used = at + size;
			return (char *)chunk + at;
		}
	}
	size_t want = chunk ? chunk->size * 2 : CHUNK_FIRST;

	if(want > CHUNK_MAX) want = CHUNK_MAX;
	if(want < header + size) want = header + size;
	if(want >= HUGE_PAGE){
		want = (want + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
		chunk = aligned_alloc(HUGE_PAGE, want);
		if(chunk) madvise(chunk, want, MADV_HUGEPAGE); /* a hint: failure changes nothing */
	}else{
		chunk = aligned_alloc(64, want);
	}
	if(!chunk) return NULL;
	chunk->next = snap->chunks;
	chunk->size = want;
	chunk->used = header + size;
	snap->chunks = chunk;
	return (char *)chunk + header;
}

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
		{ "health", ROLE_HEALTH },
	};

	for(size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++){
		if(!strcmp(role, roles[i].name)){
			*out = roles[i].role;
			return 0;
		}
	}
	return -1;
}

static unsigned name_hash(const char *name, size_t len)
{
	unsigned hashv;

	HASH_VALUE(name, len, hashv);
	return hashv;
}

/* The index slot of user (already in the index). */
static struct snapshot_user_slot *index_slot(struct snapshot *snap, const struct snapshot_user *user)
{
	unsigned long i = user->name_hash & snap->index_mask;

	while(snap->user_index[i].user != user) i = (i + 1) & snap->index_mask;
	return &snap->user_index[i];
}

static void index_put(struct snapshot_user_slot *index, unsigned long mask, const struct snapshot_user *user)
{
	unsigned long i = user->name_hash & mask;

	while(index[i].user) i = (i + 1) & mask;
	index[i].name_hash = user->name_hash;
	index[i].room_hashes = user->room_hashes;
	index[i].user = user;
}

/* Adds user to the lookup index, doubling it first when it would be more
 * than half full. 0, or -1 when out of memory (the index is unchanged). */
static int index_add(struct snapshot *snap, const struct snapshot_user *user)
{
	unsigned long slots = snap->user_index ? snap->index_mask + 1 : 0;

	if((snap->user_count + 1) * 2 > slots){
		unsigned long grown = slots ? slots * 2 : 16;
		struct snapshot_user_slot *index = arena_alloc(snap, grown * sizeof(*index), 64);

		if(!index) return -1;
		memset(index, 0, grown * sizeof(*index));
		for(unsigned long i = 0; i < slots; i++){
			if(snap->user_index[i].user) index_put(index, grown - 1, snap->user_index[i].user);
		}
		/* The old index stays in the arena until snapshot_free: the
		 * doublings add up to less than the final index. */
		snap->user_index = index;
		snap->index_mask = grown - 1;
	}
	index_put(snap->user_index, snap->index_mask, user);
	return 0;
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
		/* A cache line's start, so that the ACL's fields are one line. */
		size_t size = (sizeof(*user) + 63) / 64 * 64;

		user = arena_alloc(snap, size, 64);
		if(!user) return -1;
		memset(user, 0, size);
		strcpy(user->name, name); /* length checked by name_user_valid */
		user->name_hash = name_hash(name, strlen(name));
		if(index_add(snap, user)) return -1; /* its memory goes with the arena */
		HASH_ADD_STR(snap->users, name, user);
		snap->user_count++;
	}
	memcpy(user->pw_hash, pw_hash, strlen(pw_hash) + 1);
	user->role = parsed;
	user->disabled = disabled;
	return 0;
}

static unsigned room_hash(const char *room, size_t len)
{
	unsigned hashv;

	HASH_VALUE(room, len, hashv);
	return hashv;
}

/* The interned copy of room, added if new; NULL when out of memory. */
static const struct snapshot_room *intern_room(struct snapshot *snap, const char *room)
{
	struct snapshot_room *entry = NULL;

	HASH_FIND_STR(snap->rooms, room, entry);
	if(entry) return entry;
	entry = arena_alloc(snap, sizeof(*entry), 16);
	if(!entry) return NULL;
	memset(entry, 0, sizeof(*entry));
	strcpy(entry->name, room); /* length checked by name_room_valid */
	HASH_ADD_STR(snap->rooms, name, entry);
	return entry;
}

/* The interned names of user's block, after its room_cap hashes. */
static const struct snapshot_room **room_names(const struct snapshot_user *user)
{
	return (const struct snapshot_room **)(void *)(user->room_hashes + user->room_cap);
}

/* Index of the first membership of user whose hash is not below hashv. */
static unsigned lower_bound(const struct snapshot_user *user, unsigned hashv)
{
	unsigned lo = 0, hi = user->room_count;

	while(lo < hi){
		unsigned mid = lo + (hi - lo) / 2;

		if(user->room_hashes[mid] < hashv) lo = mid + 1;
		else hi = mid;
	}
	return lo;
}

static bool member_at(const struct snapshot_user *user, unsigned hashv, const char *room, unsigned *pos)
{
	unsigned i = lower_bound(user, hashv);

	*pos = i;
	for(; i < user->room_count && user->room_hashes[i] == hashv; i++){
		if(!strcmp(room_names(user)[i]->name, room)) return true;
	}
	return false;
}

/* Doubles user's membership block (one allocation: hashes, then names) and
 * points its index slot at the new one. 0, or -1 when out of memory (the
 * block is unchanged). */
static int grow_rooms(struct snapshot *snap, struct snapshot_user *user)
{
	unsigned cap = user->room_cap ? user->room_cap * 2 : 4; /* even: the names stay 8-byte aligned */
	unsigned *block = arena_alloc(snap, cap * (sizeof(unsigned) + sizeof(struct snapshot_room *)), 64);

	if(!block) return -1;
	if(user->room_count){
		memcpy(block, user->room_hashes, user->room_count * sizeof(unsigned));
		memcpy(block + cap, room_names(user), user->room_count * sizeof(struct snapshot_room *));
	}
	user->room_hashes = block; /* the old block stays in the arena (doublings: under 2x) */
	user->room_cap = cap;
	index_slot(snap, user)->room_hashes = block;
	return 0;
}

int snapshot_add_member(struct snapshot *snap, const char *room, const char *user_name)
{
	struct snapshot_user *user = NULL;
	const struct snapshot_room *interned, **names;
	unsigned hashv, pos;

	if(!name_room_valid(room)) return -1;
	HASH_FIND_STR(snap->users, user_name, user);
	if(!user) return -1;
	hashv = room_hash(room, strlen(room));
	if(member_at(user, hashv, room, &pos)) return 0;
	interned = intern_room(snap, room);
	if(!interned) return -1;
	if(user->room_count == user->room_cap && grow_rooms(snap, user)) return -1;
	names = room_names(user);
	memmove(user->room_hashes + pos + 1, user->room_hashes + pos, (user->room_count - pos) * sizeof(*user->room_hashes));
	memmove(names + pos + 1, names + pos, (user->room_count - pos) * sizeof(*names));
	user->room_hashes[pos] = hashv;
	names[pos] = interned;
	user->room_count++;
	snap->membership_count++;
	return 0;
}

const struct snapshot_user *snapshot_user(const struct snapshot *snap, const char *name)
{
	unsigned hashv;

	if(!snap || !name || !snap->user_index) return NULL;
	hashv = name_hash(name, strlen(name));
	for(unsigned long i = hashv & snap->index_mask; snap->user_index[i].user; i = (i + 1) & snap->index_mask){
		const struct snapshot_user_slot *slot = &snap->user_index[i];

		if(slot->name_hash != hashv) continue;
		/* Both misses at once: the ACL decision reads the block next. */
		if(slot->room_hashes) __builtin_prefetch(slot->room_hashes);
		if(!strcmp(slot->user->name, name)) return slot->user;
	}
	return NULL;
}

bool snapshot_is_member(const struct snapshot_user *user, const char *room)
{
	unsigned pos;

	if(!user || !room || user->room_count == 0) return false;
	return member_at(user, room_hash(room, strlen(room)), room, &pos);
}

static int scope_parse(const char *rooms, const char *mode, struct snapshot *snap, struct snapshot_token *tok)
{
	char copy[TOKEN_SCOPE_ROOMS_MAX * (NAME_ROOM_MAX + 1) + 1];
	char *save = NULL;

	if(!rooms){
		tok->scope = TOKEN_SCOPE_NONE;
		return 0;
	}
	if(!mode || !strcmp(mode, "full")) tok->scope = TOKEN_SCOPE_FULL;
	else if(!strcmp(mode, "publish")) tok->scope = TOKEN_SCOPE_PUBLISH;
	else if(!strcmp(mode, "read")) tok->scope = TOKEN_SCOPE_READ;
	else return -1;
	if(strlen(rooms) >= sizeof(copy)) return -1;
	memcpy(copy, rooms, strlen(rooms) + 1);
	for(char *room = strtok_r(copy, ",", &save); room; room = strtok_r(NULL, ",", &save)){
		const struct snapshot_room *interned;

		if(!name_room_valid(room) || tok->room_count == TOKEN_SCOPE_ROOMS_MAX) return -1;
		if(snapshot_token_has_room(tok, room)) continue;
		interned = intern_room(snap, room);
		if(!interned) return -1;
		tok->rooms[tok->room_count++] = interned;
	}
	/* A scope of no rooms reaches nothing; kept so that it logs in and is
	 * refused everything, as its issuer asked. */
	return 0;
}

int snapshot_add_token(struct snapshot *snap, const char *id, const char *user_name, const char *hash_hex,
		long long expires_ms, const char *scope_rooms, const char *scope_mode)
{
	struct snapshot_user *user = NULL;
	struct snapshot_token *tok = NULL;
	int rc = -1;

	if(!token_id_valid(id) || !user_name) goto out;
	HASH_FIND_STR(snap->users, user_name, user);
	if(!user) goto out;
	HASH_FIND_STR(snap->tokens, id, tok);
	if(tok){
		tok = NULL; /* ids are the table's primary key: never twice */
		goto out;
	}
	tok = calloc(1, sizeof(*tok));
	if(!tok) goto out;
	memcpy(tok->id, id, TOKEN_ID_LEN + 1);
	if(token_hash_from_hex(hash_hex, tok->hash) || scope_parse(scope_rooms, scope_mode, snap, tok)) goto out;
	tok->user = user;
	tok->expires_ms = expires_ms;
	HASH_ADD_STR(snap->tokens, id, tok);
	snap->token_count++;
	tok = NULL;
	rc = 0;
out:
	free(tok);
	return rc;
}

const struct snapshot_token *snapshot_token(const struct snapshot *snap, const char *id)
{
	struct snapshot_token *tok = NULL;

	if(!snap || !id) return NULL;
	HASH_FIND_STR(snap->tokens, id, tok);
	return tok;
}

bool snapshot_token_has_room(const struct snapshot_token *tok, const char *room)
{
	for(unsigned i = 0; tok && room && i < tok->room_count; i++){
		if(!strcmp(tok->rooms[i]->name, room)) return true;
	}
	return false;
}

bool role_is_privileged(enum user_role role)
{
	return role == ROLE_SERVICE || role == ROLE_BRIDGE || role == ROLE_ADMIN;
}

void snapshot_free(struct snapshot *snap)
{
	struct snapshot_user *user, *user_tmp;
	struct snapshot_token *tok, *tok_tmp;

	if(!snap) return;
	HASH_ITER(hh, snap->tokens, tok, tok_tmp){
		HASH_DEL(snap->tokens, tok);
		memset(tok->hash, 0, sizeof(tok->hash));
		free(tok);
	}
	HASH_ITER(hh, snap->users, user, user_tmp){
		memset(user->pw_hash, 0, sizeof(user->pw_hash));
	}
	HASH_CLEAR(hh, snap->users);
	HASH_CLEAR(hh, snap->rooms);
	for(struct snapshot_chunk *chunk = snap->chunks, *next; chunk; chunk = next){
		next = chunk->next;
		free(chunk);
	}
	free(snap);
}
