/* flood.c: bad-login flood protection; see flood.h. */
#include "flood.h"

#include <stdio.h>
#include <string.h>

#include <uthash.h>

#include "plugin_alloc.h"

#define KEY_MAX 64

struct flood_entry {
	char key[KEY_MAX];
	long failures;
	long last_failure;
	long locked_until;
	UT_hash_handle hh;
};

struct flood {
	struct flood_opts opts;
	struct flood_entry *tables[2];
};

struct flood *flood_new(const struct flood_opts *opts)
{
	struct flood *flood = plugin_calloc(1, sizeof(*flood));

	if(flood) flood->opts = *opts;
	return flood;
}

static struct flood_entry *find(struct flood *flood, enum flood_key kind, const char *key)
{
	struct flood_entry *entry = NULL;

	if(!key || strlen(key) >= KEY_MAX) return NULL;
	HASH_FIND_STR(flood->tables[kind], key, entry);
	return entry;
}

long flood_locked_for(struct flood *flood, enum flood_key kind, const char *key, long now)
{
	struct flood_entry *entry;

	if(!flood) return 0;
	entry = find(flood, kind, key);
	if(!entry || entry->locked_until <= now) return 0;
	return entry->locked_until - now;
}

static void drop_oldest(struct flood *flood, enum flood_key kind)
{
	struct flood_entry *entry = flood->tables[kind];

	if(!entry) return;
	HASH_DEL(flood->tables[kind], entry);
	plugin_free(entry);
}

static void count_failure(struct flood *flood, enum flood_key kind, const char *key,
		long threshold, long now)
{
	struct flood_entry *entry;
	long delay;

	if(!key) return;
	entry = find(flood, kind, key);
	if(!entry){
		if(strlen(key) >= KEY_MAX) return;
		if(HASH_COUNT(flood->tables[kind]) >= flood->opts.max_entries){
			flood_expire(flood, now);
			if(HASH_COUNT(flood->tables[kind]) >= flood->opts.max_entries) drop_oldest(flood, kind);
		}
		entry = plugin_calloc(1, sizeof(*entry));
		if(!entry) return;
		snprintf(entry->key, sizeof(entry->key), "%s", key);
		HASH_ADD_STR(flood->tables[kind], key, entry);
	}
	if(now - entry->last_failure > flood->opts.window_s) entry->failures = 0;
	entry->failures++;
	entry->last_failure = now;
	if(entry->failures < threshold) return;
	delay = flood->opts.base_delay_s;
	for(long i = threshold; i < entry->failures && delay < flood->opts.lockout_s; i++) delay *= 2;
	if(delay > flood->opts.lockout_s) delay = flood->opts.lockout_s;
	entry->locked_until = now + delay;
}

void flood_failure(struct flood *flood, const char *user, const char *address, long now)
{
	if(!flood) return;
	count_failure(flood, FLOOD_USER, user, flood->opts.user_threshold, now);
	count_failure(flood, FLOOD_ADDRESS, address, flood->opts.address_threshold, now);
}

void flood_success(struct flood *flood, const char *user, long now)
{
	struct flood_entry *entry;

	(void)now;
	if(!flood) return;
	entry = find(flood, FLOOD_USER, user);
	if(entry){
		HASH_DEL(flood->tables[FLOOD_USER], entry);
		plugin_free(entry);
	}
}

void flood_expire(struct flood *flood, long now)
{
	struct flood_entry *entry, *tmp;

	if(!flood) return;
	for(int kind = 0; kind < 2; kind++){
		HASH_ITER(hh, flood->tables[kind], entry, tmp){
			if(entry->locked_until <= now && now - entry->last_failure > flood->opts.window_s){
				HASH_DEL(flood->tables[kind], entry);
				plugin_free(entry);
			}
		}
	}
}

size_t flood_size(const struct flood *flood, enum flood_key kind)
{
	return flood ? HASH_COUNT(flood->tables[kind]) : 0;
}

void flood_free(struct flood *flood)
{
	struct flood_entry *entry, *tmp;

	if(!flood) return;
	for(int kind = 0; kind < 2; kind++){
		HASH_ITER(hh, flood->tables[kind], entry, tmp){
			HASH_DEL(flood->tables[kind], entry);
			plugin_free(entry);
		}
	}
	plugin_free(flood);
}
