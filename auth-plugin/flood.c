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
	long long last_failure_ms;
	long long locked_until_ms;
	long long next_verify_ms; /* while slowed: no verification before this */
	UT_hash_handle hh;
};

struct flood {
	struct flood_opts opts;
	struct flood_entry *tables[2];
	double budget;             /* node-wide verifications left; may be negative */
	long long budget_at_ms;    /* when budget was last brought up to date */
	bool budget_started;
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

static long long window_ms(const struct flood *flood)
{
	return (long long)flood->opts.window_s * 1000;
}

/* Failures that still count at now_ms. */
static long live_failures(const struct flood *flood, const struct flood_entry *entry, long long now_ms)
{
	if(!entry || now_ms - entry->last_failure_ms > window_ms(flood)) return 0;
	return entry->failures;
}

static long slow_after(const struct flood *flood, enum flood_key kind)
{
	return kind == FLOOD_USER ? flood->opts.user_slow_after : flood->opts.address_slow_after;
}

static bool is_slowed(const struct flood *flood, enum flood_key kind, const struct flood_entry *entry,
		long long now_ms)
{
	return entry && live_failures(flood, entry, now_ms) >= slow_after(flood, kind);
}

static bool is_locked(const struct flood_entry *entry, long long now_ms)
{
	return entry && entry->locked_until_ms > now_ms;
}

long long flood_locked_for(struct flood *flood, enum flood_key kind, const char *key, long long now_ms)
{
	struct flood_entry *entry;

	if(!flood) return 0;
	entry = find(flood, kind, key);
	if(!is_locked(entry, now_ms)) return 0;
	return entry->locked_until_ms - now_ms;
}

/* The node-wide bucket holds at most verify_budget checks (a quiet spell
 * buys a few: people behind one NAT may mistype, and a client may retry a
 * wrong password once by itself) and owes at most as many (it recovers
 * within two windows of an attack's end). Attempts with failures behind
 * them need it positive; fresh ones only wait once it owes half of it. */
static double budget_cap(const struct flood *flood)
{
	return (double)flood->opts.verify_budget;
}

static double budget_floor(const struct flood *flood)
{
	return -(double)flood->opts.verify_budget;
}

static double budget_fresh_floor(const struct flood *flood)
{
	return -(double)flood->opts.verify_budget / 2;
}

double flood_budget(struct flood *flood, long long now_ms)
{
	if(!flood) return 0;
	if(!flood->budget_started){
		flood->budget_started = true;
		flood->budget = budget_cap(flood);
		flood->budget_at_ms = now_ms;
	}
	if(now_ms > flood->budget_at_ms){
		flood->budget += (double)(now_ms - flood->budget_at_ms) * (double)flood->opts.verify_budget
			/ (double)(flood->opts.verify_window_ms > 0 ? flood->opts.verify_window_ms : 1);
		flood->budget_at_ms = now_ms;
		if(flood->budget > budget_cap(flood)) flood->budget = budget_cap(flood);
	}
	return flood->budget;
}

void flood_charge(struct flood *flood, long long now_ms)
{
	if(!flood) return;
	flood_budget(flood, now_ms);
	flood->budget -= 1.0;
	if(flood->budget < budget_floor(flood)) flood->budget = budget_floor(flood);
}

enum flood_verdict flood_admit(struct flood *flood, const char *user, const char *address,
		long long now_ms, bool *charged)
{
	struct flood_entry *by_user, *by_address;
	bool user_slowed, address_slowed, suspicious;
	double budget;

	*charged = false;
	if(!flood) return FLOOD_VERIFY;
	by_user = find(flood, FLOOD_USER, user);
	by_address = find(flood, FLOOD_ADDRESS, address);
	if(is_locked(by_address, now_ms)) return FLOOD_ADDRESS_LOCKED;
	if(is_locked(by_user, now_ms)) return FLOOD_USER_LOCKED;
	user_slowed = is_slowed(flood, FLOOD_USER, by_user, now_ms);
	address_slowed = is_slowed(flood, FLOOD_ADDRESS, by_address, now_ms);
	if((user_slowed && now_ms < by_user->next_verify_ms)
			|| (address_slowed && now_ms < by_address->next_verify_ms)){
		return FLOOD_SLOWED;
	}
	/* An address counts only once slowed: behind NAT or a proxy, an
	 * address with a few failures is everybody's address. A name's first
	 * failure may be its owner's typo: the retry goes like a fresh login. */
	suspicious = live_failures(flood, by_user, now_ms) > 1 || user_slowed || address_slowed;
	budget = flood_budget(flood, now_ms);
	if(budget <= (suspicious ? 0 : budget_fresh_floor(flood))) return FLOOD_BUSY;
	if(user_slowed) by_user->next_verify_ms = now_ms + flood->opts.slow_interval_ms;
	if(address_slowed) by_address->next_verify_ms = now_ms + flood->opts.slow_interval_ms;
	*charged = suspicious;
	return FLOOD_VERIFY;
}

static void drop_oldest(struct flood *flood, enum flood_key kind)
{
	struct flood_entry *entry = flood->tables[kind];

	if(!entry) return;
	HASH_DEL(flood->tables[kind], entry);
	plugin_free(entry);
}

/* Counts one failure of key. verified: after a password check (which starts
 * the slowed key's interval), or a refusal without one. */
static void count_failure(struct flood *flood, enum flood_key kind, const char *key, long long now_ms,
		bool verified)
{
	long threshold = kind == FLOOD_USER ? flood->opts.user_threshold : flood->opts.address_threshold;
	struct flood_entry *entry;
	long long delay_ms, lockout_ms = (long long)flood->opts.lockout_s * 1000;

	if(!key) return;
	entry = find(flood, kind, key);
	if(!entry){
		if(strlen(key) >= KEY_MAX) return;
		if(HASH_COUNT(flood->tables[kind]) >= flood->opts.max_entries){
			flood_expire(flood, now_ms);
			if(HASH_COUNT(flood->tables[kind]) >= flood->opts.max_entries) drop_oldest(flood, kind);
		}
		entry = plugin_calloc(1, sizeof(*entry));
		if(!entry) return;
		snprintf(entry->key, sizeof(entry->key), "%s", key);
		HASH_ADD_STR(flood->tables[kind], key, entry);
	}
	entry->failures = live_failures(flood, entry, now_ms) + 1;
	entry->last_failure_ms = now_ms;
	if(verified && entry->failures >= slow_after(flood, kind)
			&& entry->next_verify_ms < now_ms + flood->opts.slow_interval_ms){
		entry->next_verify_ms = now_ms + flood->opts.slow_interval_ms;
	}
	if(entry->failures < threshold) return;
	delay_ms = (long long)flood->opts.base_delay_s * 1000;
	for(long i = threshold; i < entry->failures && delay_ms < lockout_ms; i++) delay_ms *= 2;
	if(delay_ms > lockout_ms) delay_ms = lockout_ms;
	entry->locked_until_ms = now_ms + delay_ms;
}

void flood_refused(struct flood *flood, enum flood_verdict verdict, const char *user,
		const char *address, long long now_ms)
{
	struct flood_entry *by_user, *by_address;
	bool user_slowed, address_slowed;

	if(!flood) return;
	/* An address that keeps trying while locked is abusing the service
	 * whoever it is: each attempt lengthens its lock, up to lockout_s. A
	 * locked user name is not lengthened this way, so its owner's devices
	 * retrying do not keep it locked. */
	if(verdict == FLOOD_ADDRESS_LOCKED){
		count_failure(flood, FLOOD_ADDRESS, address, now_ms, false);
		return;
	}
	by_user = find(flood, FLOOD_USER, user);
	by_address = find(flood, FLOOD_ADDRESS, address);
	/* Waiting for the node-wide budget counts only against an address that
	 * has failed before (one address guessing many names), never against a
	 * name or a clean address. */
	if(verdict == FLOOD_BUSY){
		if(live_failures(flood, by_address, now_ms) > 0) count_failure(flood, FLOOD_ADDRESS, address, now_ms, false);
		return;
	}
	/* Only the keys that made the attempt wait pay for it: a fresh name
	 * tried from a slowed address is not held against that name's owner. */
	if(verdict != FLOOD_SLOWED) return;
	user_slowed = is_slowed(flood, FLOOD_USER, by_user, now_ms);
	address_slowed = is_slowed(flood, FLOOD_ADDRESS, by_address, now_ms);
	if(user_slowed) count_failure(flood, FLOOD_USER, user, now_ms, false);
	if(address_slowed) count_failure(flood, FLOOD_ADDRESS, address, now_ms, false);
}

void flood_failure(struct flood *flood, const char *user, const char *address, long long now_ms)
{
	if(!flood) return;
	count_failure(flood, FLOOD_USER, user, now_ms, true);
	count_failure(flood, FLOOD_ADDRESS, address, now_ms, true);
}

void flood_success(struct flood *flood, const char *user, long long now_ms)
{
	struct flood_entry *entry;

	(void)now_ms;
	if(!flood) return;
	entry = find(flood, FLOOD_USER, user);
	if(entry){
		HASH_DEL(flood->tables[FLOOD_USER], entry);
		plugin_free(entry);
	}
}

void flood_expire(struct flood *flood, long long now_ms)
{
	struct flood_entry *entry, *tmp;

	if(!flood) return;
	for(int kind = 0; kind < 2; kind++){
		HASH_ITER(hh, flood->tables[kind], entry, tmp){
			if(entry->locked_until_ms <= now_ms && now_ms - entry->last_failure_ms > window_ms(flood)){
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

const char *flood_verdict_name(enum flood_verdict verdict)
{
	switch(verdict){
	case FLOOD_VERIFY: return "verify";
	case FLOOD_SLOWED: return "slowed";
	case FLOOD_BUSY: return "busy";
	case FLOOD_USER_LOCKED: return "user locked";
	case FLOOD_ADDRESS_LOCKED: return "address locked";
	}
	return "?";
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
