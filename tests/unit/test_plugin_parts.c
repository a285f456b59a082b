/* test_plugin_parts.c: unit tests for the plugin's login cache, flood
 * protection and Mosquitto-syntax ACL files (built with plugin_alloc.h on
 * calloc/free, since no broker runs here). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "../../auth-plugin/acl_file.h"
#include "../../auth-plugin/clientid_owner.h"
#include "../../auth-plugin/clientid_store.h"
#include "../../auth-plugin/flood.h"
#include "../../auth-plugin/login_cache.h"

static void cache_hits_only_the_same_user_password_and_hash(void)
{
	struct login_cache *cache = login_cache_new(300, 10);

	if(!CHECK(cache != NULL)) return;
	CHECK(!login_cache_hit(cache, "alice", "secret", "$7$hashA", 100));
	login_cache_put(cache, "alice", "secret", "$7$hashA", 100);
	CHECK(login_cache_hit(cache, "alice", "secret", "$7$hashA", 101));
	CHECK(!login_cache_hit(cache, "alice", "Secret", "$7$hashA", 101));   /* other password */
	CHECK(!login_cache_hit(cache, "alicE", "secret", "$7$hashA", 101));   /* other user */
	CHECK(!login_cache_hit(cache, "alice", "secret", "$7$hashB", 101));   /* password changed */
	/* The separator keeps ("ab","c") apart from ("a","bc"). */
	login_cache_put(cache, "ab", "c", "h", 100);
	CHECK(!login_cache_hit(cache, "a", "bc", "h", 101));
	CHECK_EQ(login_cache_size(cache), 2);
	login_cache_free(cache);
}

static void cache_expires_with_jitter_and_clears(void)
{
	struct login_cache *cache = login_cache_new(100, 10);

	if(!CHECK(cache != NULL)) return;
	login_cache_put(cache, "bob", "pw", "h", 1000);
	CHECK(login_cache_hit(cache, "bob", "pw", "h", 1000 + 89));   /* TTL - 10% still valid */
	CHECK(!login_cache_hit(cache, "bob", "pw", "h", 1000 + 111)); /* TTL + 10% gone */
	CHECK_EQ(login_cache_size(cache), 0);                          /* and evicted */
	login_cache_put(cache, "bob", "pw", "h", 2000);
	login_cache_clear(cache);
	CHECK(!login_cache_hit(cache, "bob", "pw", "h", 2001));
	login_cache_free(cache);
}

static void cache_is_bounded_and_can_be_off(void)
{
	struct login_cache *cache = login_cache_new(300, 3);
	struct login_cache *off = login_cache_new(0, 3);
	char user[32];

	if(!CHECK(cache != NULL && off != NULL)) goto out;
	for(int i = 0; i < 10; i++){
		snprintf(user, sizeof(user), "u%d", i);
		login_cache_put(cache, user, "pw", "h", 10);
	}
	CHECK(login_cache_size(cache) <= 3);
	CHECK(login_cache_hit(cache, "u9", "pw", "h", 11));  /* the newest stays */
	CHECK(!login_cache_hit(cache, "u0", "pw", "h", 11)); /* the oldest went */
	login_cache_put(off, "u", "pw", "h", 10);
	CHECK(!login_cache_hit(off, "u", "pw", "h", 11));
out:
	login_cache_free(cache);
	login_cache_free(off);
}

/* Slowing as late as locking and no budget limit: the locks alone. */
static const struct flood_opts flood_defaults = {
	.user_threshold = 3, .address_threshold = 10, .user_slow_after = 3, .address_slow_after = 10,
	.base_delay_s = 1, .lockout_s = 8, .window_s = 60, .slow_interval_ms = 0,
	.verify_budget = 1000, .verify_window_ms = 1000, .max_entries = 100,
};

/* The plugin's defaults. */
static const struct flood_opts flood_plugin_defaults = {
	.user_threshold = 5, .address_threshold = 50, .user_slow_after = 3, .address_slow_after = 25,
	.base_delay_s = 1, .lockout_s = 300, .window_s = 600, .slow_interval_ms = 2000,
	.verify_budget = 3, .verify_window_ms = 1000, .max_entries = 100,
};

static void flood_locks_a_name_after_threshold_with_doubling_delay(void)
{
	struct flood *flood = flood_new(&flood_defaults);

	if(!CHECK(flood != NULL)) return;
	flood_failure(flood, "alice", "10.0.0.1", 100000);
	flood_failure(flood, "alice", "10.0.0.1", 100000);
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "alice", 100000), 0);   /* below threshold */
	flood_failure(flood, "alice", "10.0.0.1", 100000);
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "alice", 100000), 1000);   /* 1 s */
	flood_failure(flood, "alice", "10.0.0.1", 101000);
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "alice", 101000), 2000);   /* 2 s */
	flood_failure(flood, "alice", "10.0.0.1", 103000);
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "alice", 103500), 3500);
	for(int i = 0; i < 10; i++) flood_failure(flood, "alice", "10.0.0.2", 107000);
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "alice", 107000), 8000);   /* capped at lockout */
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "alice", 115000), 0);      /* and it ends */
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "bob", 107000), 0);        /* others untouched */
	flood_free(flood);
}

static void flood_counts_addresses_and_forgets(void)
{
	struct flood *flood = flood_new(&flood_defaults);
	char user[32];

	if(!CHECK(flood != NULL)) return;
	/* Many names from one address: each name stays under its threshold,
	 * the address does not. */
	for(int i = 0; i < 10; i++){
		snprintf(user, sizeof(user), "guess%d", i);
		flood_failure(flood, user, "10.0.0.9", 50000);
	}
	CHECK(flood_locked_for(flood, FLOOD_ADDRESS, "10.0.0.9", 50000) > 0);
	CHECK_EQ(flood_locked_for(flood, FLOOD_ADDRESS, "10.0.0.8", 50000), 0);
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "guess1", 50000), 0);
	/* A success resets the name; the window forgets old failures. */
	flood_failure(flood, "carol", NULL, 50000);
	flood_failure(flood, "carol", NULL, 50000);
	flood_success(flood, "carol", 51000);
	flood_failure(flood, "carol", NULL, 52000);
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "carol", 52000), 0);
	flood_failure(flood, "dave", NULL, 0);
	flood_failure(flood, "dave", NULL, 0);
	flood_failure(flood, "dave", NULL, 100000);   /* the first two are past the window */
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "dave", 100000), 0);
	flood_expire(flood, 1000000);
	CHECK_EQ(flood_size(flood, FLOOD_USER), 0);
	CHECK_EQ(flood_size(flood, FLOOD_ADDRESS), 0);
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, NULL, 0), 0);
	flood_free(flood);
}

static void flood_memory_is_bounded(void)
{
	struct flood_opts opts = flood_defaults;
	struct flood *flood;
	char user[32];

	opts.max_entries = 50;
	flood = flood_new(&opts);
	if(!CHECK(flood != NULL)) return;
	for(int i = 0; i < 1000; i++){
		snprintf(user, sizeof(user), "spray%d", i);
		flood_failure(flood, user, user, 10000);
	}
	CHECK(flood_size(flood, FLOOD_USER) <= 50);
	CHECK(flood_size(flood, FLOOD_ADDRESS) <= 50);
	flood_free(flood);
}

/* What the plugin does with one login that is not cached: admit, then
 * verify (the test says whether the password was right) and charge the
 * budget, or refuse. */
static enum flood_verdict attempt(struct flood *flood, const char *user, const char *address,
		long long now_ms, bool password_right)
{
	bool charged = false;
	enum flood_verdict verdict = flood_admit(flood, user, address, now_ms, &charged);

	if(verdict != FLOOD_VERIFY){
		flood_refused(flood, verdict, user, address, now_ms);
		return verdict;
	}
	if(charged || !password_right) flood_charge(flood, now_ms);
	if(password_right){
		flood_success(flood, user, now_ms);
	}else{
		flood_failure(flood, user, address, now_ms);
	}
	return verdict;
}

static void flood_slows_a_name_after_one_failure_then_locks_it(void)
{
	struct flood_opts opts = flood_plugin_defaults;
	struct flood *flood;
	bool charged = false;

	opts.user_slow_after = 1;
	opts.address_slow_after = 50; /* this test is about names */
	opts.verify_budget = 1000;
	flood = flood_new(&opts);
	if(!CHECK(flood != NULL)) return;
	/* A fresh name is verified; its budget is charged only if it fails. */
	CHECK_EQ(flood_admit(flood, "alice", "10.0.0.1", 0, &charged), FLOOD_VERIFY);
	CHECK(!charged);
	flood_failure(flood, "alice", "10.0.0.1", 0);
	/* Slowed: from anywhere, even with the right password, no verification
	 * before the interval is over; other names are not slowed. */
	CHECK_EQ(flood_admit(flood, "alice", "10.0.0.2", 10, &charged), FLOOD_SLOWED);
	CHECK_EQ(attempt(flood, "alice", "10.0.0.3", 1999, true), FLOOD_SLOWED);
	CHECK_EQ(attempt(flood, "bob", "10.0.0.1", 10, true), FLOOD_VERIFY);
	/* The refusals counted against the name, not against those addresses. */
	CHECK_EQ(flood_size(flood, FLOOD_ADDRESS), 1);
	/* Due again: one verification, charged to the budget; the next waits. */
	CHECK_EQ(flood_admit(flood, "alice", "10.0.0.2", 2000, &charged), FLOOD_VERIFY);
	CHECK(charged);
	flood_failure(flood, "alice", "10.0.0.2", 2000);                   /* 3 failures */
	CHECK_EQ(attempt(flood, "alice", "10.0.0.2", 2001, false), FLOOD_SLOWED); /* 4 */
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "alice", 2001), 0);
	CHECK_EQ(attempt(flood, "alice", "10.0.0.2", 2002, false), FLOOD_SLOWED); /* 5: locked */
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "alice", 2002), 1000);
	CHECK_EQ(attempt(flood, "alice", "10.0.0.9", 2500, true), FLOOD_USER_LOCKED);
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "alice", 2500), 502);  /* a locked refusal does not extend it */
	/* After the lock, still slowed until the interval from the last check. */
	CHECK_EQ(attempt(flood, "alice", "10.0.0.9", 3002, true), FLOOD_SLOWED); /* 6: locked 2 s */
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "alice", 3002), 2000);
	CHECK_EQ(attempt(flood, "alice", "10.0.0.9", 5002, true), FLOOD_VERIFY);
	/* That success (a verified one) gave the name a clean slate. */
	CHECK_EQ(attempt(flood, "alice", "10.0.0.9", 5003, true), FLOOD_VERIFY);
	/* A slowed name is forgotten after the window. */
	CHECK_EQ(attempt(flood, "carol", "10.0.0.5", 6000, false), FLOOD_VERIFY);
	CHECK_EQ(attempt(flood, "carol", "10.0.0.5", 6001, true), FLOOD_SLOWED);
	CHECK_EQ(attempt(flood, "carol", "10.0.0.5", 6001 + 600001, true), FLOOD_VERIFY);
	flood_free(flood);
}

/* 1,000 attempts per second from one address, each a different real name,
 * with the plugin's defaults. */
static void flood_one_address_against_many_names_is_bounded_then_locked(void)
{
	struct flood *flood = flood_new(&flood_plugin_defaults);
	char user[32];
	int verified_first_s = 0, verified = 0;

	if(!CHECK(flood != NULL)) return;
	for(int i = 0; i < 60000; i++){
		snprintf(user, sizeof(user), "name%d", i % 500);
		if(attempt(flood, user, "127.0.0.2", i, false) == FLOOD_VERIFY){
			verified++;
			if(i < 1000) verified_first_s++;
		}
	}
	/* Five checks at once (the bucket of three, and fresh names go on to
	 * half a bucket's debt), then one per 333 ms until the address is
	 * slowed, then locked. */
	CHECK(verified_first_s <= 6);
	CHECK(verified <= 12);
	CHECK(flood_locked_for(flood, FLOOD_ADDRESS, "127.0.0.2", 59999) > 0);
	CHECK_EQ(attempt(flood, "name5", "127.0.0.2", 60000, true), FLOOD_ADDRESS_LOCKED);
	/* Trying on while locked lengthens the address's lock up to the lockout. */
	for(int i = 0; i < 20; i++) CHECK_EQ(attempt(flood, "name6", "127.0.0.2", 60001, false), FLOOD_ADDRESS_LOCKED);
	CHECK_EQ(flood_locked_for(flood, FLOOD_ADDRESS, "127.0.0.2", 60001), 300000);
	/* Names tried from it but refused unchecked were not held against their
	 * owners: from another address they are checked. */
	CHECK_EQ(attempt(flood, "name400", "127.0.0.1", 60001, true), FLOOD_VERIFY);
	flood_free(flood);
}

/* 1,000 attempts per second at one name, each from a different address. */
static void flood_many_addresses_against_one_name_is_bounded_then_locked(void)
{
	struct flood *flood = flood_new(&flood_plugin_defaults);
	char address[32];
	int verified = 0;

	if(!CHECK(flood != NULL)) return;
	for(int i = 0; i < 1000; i++){
		snprintf(address, sizeof(address), "127.0.%d.%d", i / 250, i % 250 + 1);
		verified += attempt(flood, "alice", address, i, false) == FLOOD_VERIFY;
	}
	CHECK_EQ(verified, 3);   /* then slowed (2 s), then locked */
	CHECK(flood_locked_for(flood, FLOOD_USER, "alice", 999) > 0);
	/* Only the addresses whose guesses were checked are counted. */
	CHECK_EQ(flood_size(flood, FLOOD_ADDRESS), 3);
	/* Another user from one of those addresses: after the budget recovers. */
	CHECK_EQ(attempt(flood, "bob", "127.0.1.7", 999, true), FLOOD_VERIFY);
	flood_free(flood);
}

static void flood_budget_counts_checks_node_wide(void)
{
	struct flood_opts opts = flood_plugin_defaults;
	struct flood *flood;
	bool charged = false;

	opts.verify_budget = 4; /* one check per 250 ms */
	flood = flood_new(&opts);
	if(!CHECK(flood != NULL)) return;
	/* Four checks per second, saved up for at most one second. */
	CHECK(flood_budget(flood, 0) == 4.0);
	CHECK(flood_budget(flood, 60000) == 4.0);
	/* A typo and the client's retry: nobody waits. */
	CHECK_EQ(attempt(flood, "typo", "10.1.1.9", 60000, false), FLOOD_VERIFY);
	CHECK_EQ(attempt(flood, "typo", "10.1.1.9", 60000, false), FLOOD_VERIFY);
	CHECK(flood_budget(flood, 60000) == 2.0);
	/* Two failures behind it: now every check of that name is paid. */
	CHECK_EQ(flood_admit(flood, "typo", "10.1.1.9", 60000, &charged), FLOOD_VERIFY);
	CHECK(charged);
	flood_charge(flood, 60000);
	/* Spent: logins with failures behind them wait for a check in the
	 * bucket, fresh ones (many names from many addresses) from half a
	 * bucket's debt on. */
	flood_charge(flood, 60000);
	CHECK_EQ(attempt(flood, "typo", "10.1.1.8", 60000, true), FLOOD_BUSY);
	CHECK_EQ(attempt(flood, "fresh", "10.1.1.1", 60000, true), FLOOD_VERIFY);
	flood_charge(flood, 60000);
	flood_charge(flood, 60000);
	CHECK(flood_budget(flood, 60000) == -2.0);
	CHECK_EQ(attempt(flood, "fresh2", "10.1.1.2", 60000, true), FLOOD_BUSY);   /* exactly half */
	/* Such waits count nowhere, except against an address that failed before. */
	CHECK_EQ(flood_size(flood, FLOOD_USER), 1);
	CHECK_EQ(flood_size(flood, FLOOD_ADDRESS), 1);
	CHECK_EQ(flood_admit(flood, "fresh2", "10.1.1.2", 60001, &charged), FLOOD_VERIFY);
	CHECK(!charged);
	CHECK_EQ(attempt(flood, "typo", "10.1.1.8", 60499, true), FLOOD_BUSY);
	CHECK_EQ(flood_admit(flood, "typo", "10.1.1.8", 60501, &charged), FLOOD_VERIFY);
	CHECK(charged);
	/* It owes at most a bucket and saves at most a bucket. */
	for(int i = 0; i < 100; i++) flood_charge(flood, 70000);
	CHECK(flood_budget(flood, 70000) == -4.0);
	CHECK(flood_budget(flood, 200000) == 4.0);
	flood_free(flood);
}

/* The user's own retry after one typo is checked whatever the budget: even
 * a bucket of one, just spent by that typo. */
static void flood_first_retry_after_a_typo_is_checked_with_any_budget(void)
{
	struct flood_opts opts = flood_plugin_defaults;
	struct flood *flood;

	opts.verify_budget = 1;
	opts.verify_window_ms = 60000;
	flood = flood_new(&opts);
	if(!CHECK(flood != NULL)) return;
	CHECK_EQ(attempt(flood, "alice", "10.0.0.1", 1000, false), FLOOD_VERIFY);
	CHECK_EQ(attempt(flood, "alice", "10.0.0.1", 1001, true), FLOOD_VERIFY);
	/* The floods stay bounded: once the bucket owes half of itself, no
	 * uncached login is checked, a retry included. */
	CHECK_EQ(attempt(flood, "bob", "10.0.0.2", 1002, false), FLOOD_VERIFY);
	CHECK_EQ(attempt(flood, "bob", "10.0.0.2", 1003, false), FLOOD_BUSY);
	flood_free(flood);
}

/* Connections are told apart by pointer only; any distinct addresses do. */
static int conn_a, conn_b, conn_c;

static void clientid_belongs_to_its_first_user_while_held_and_held_ms_after(void)
{
	struct clientid_owners *owners = clientid_owners_new(10000, 100, 10);

	if(!CHECK(owners != NULL)) return;
	CHECK(clientid_owners_owner(owners, "phone", 0) == NULL);
	CHECK_EQ(clientid_owners_connected(owners, "phone", "bob", &conn_a, 0), 0);
	CHECK_STR(clientid_owners_owner(owners, "phone", 1), "bob");
	/* carol may not have it, live or idle. */
	CHECK_EQ(clientid_owners_connected(owners, "phone", "carol", &conn_b, 1), -1);
	clientid_owners_disconnected(owners, &conn_a, 1000);
	CHECK_STR(clientid_owners_owner(owners, "phone", 11000), "bob");   /* hold_ms after */
	CHECK(clientid_owners_owner(owners, "phone", 11001) == NULL);      /* then free */
	CHECK_EQ(clientid_owners_size(owners), 0);
	CHECK_EQ(clientid_owners_connected(owners, "phone", "carol", &conn_b, 11002), 0);
	CHECK_STR(clientid_owners_owner(owners, "phone", 11003), "carol");
	/* An unknown connection ending changes nothing; expiry drops idle ones. */
	clientid_owners_disconnected(owners, &conn_c, 11004);
	CHECK_STR(clientid_owners_owner(owners, "phone", 50000), "carol");
	clientid_owners_disconnected(owners, &conn_b, 50000);
	clientid_owners_expire(owners, 60000);
	CHECK_EQ(clientid_owners_size(owners), 1);
	clientid_owners_expire(owners, 60001);
	CHECK_EQ(clientid_owners_size(owners), 0);
	clientid_owners_free(owners);
}

static void clientid_takeover_by_the_same_user_keeps_the_binding(void)
{
	struct clientid_owners *owners = clientid_owners_new(10000, 100, 10);

	if(!CHECK(owners != NULL)) return;
	CHECK_EQ(clientid_owners_connected(owners, "laptop", "bob", &conn_a, 0), 0);
	/* bob reconnects with the same id: the broker takes the old connection
	 * over and tells us it ended only afterwards. */
	CHECK_EQ(clientid_owners_connected(owners, "laptop", "bob", &conn_b, 10), 0);
	clientid_owners_disconnected(owners, &conn_a, 20);
	/* Still held by conn_b: no expiry however late. */
	CHECK_STR(clientid_owners_owner(owners, "laptop", 1000000), "bob");
	/* A context pointer reused for another id releases the old one. */
	CHECK_EQ(clientid_owners_connected(owners, "tablet", "bob", &conn_b, 1000000), 0);
	CHECK_STR(clientid_owners_owner(owners, "laptop", 1010000), "bob");
	CHECK(clientid_owners_owner(owners, "laptop", 1010001) == NULL);
	CHECK_STR(clientid_owners_owner(owners, "tablet", 9000000), "bob");
	clientid_owners_free(owners);
}

static void clientid_idle_bindings_are_bounded(void)
{
	struct clientid_owners *owners = clientid_owners_new(1000000, 5, 3);
	static int conns[20];
	char id[32];

	if(!CHECK(owners != NULL)) return;
	/* One user cycling through ids keeps at most 3 idle, its oldest go. */
	for(int i = 0; i < 10; i++){
		snprintf(id, sizeof(id), "spray%d", i);
		CHECK_EQ(clientid_owners_connected(owners, id, "mallory", &conns[i], i), 0);
		clientid_owners_disconnected(owners, &conns[i], i);
	}
	CHECK_EQ(clientid_owners_size(owners), 3);
	CHECK(clientid_owners_owner(owners, "spray6", 100) == NULL);
	CHECK_STR(clientid_owners_owner(owners, "spray9", 100), "mallory");
	/* In all at most 5 idle; live ones are not counted nor dropped. */
	CHECK_EQ(clientid_owners_connected(owners, "live", "bob", &conns[10], 200), 0);
	for(int i = 11; i < 14; i++){
		snprintf(id, sizeof(id), "idle%d", i);
		CHECK_EQ(clientid_owners_connected(owners, id, i % 2 ? "carol" : "dave", &conns[i], 300 + i), 0);
		clientid_owners_disconnected(owners, &conns[i], 300 + i);
	}
	CHECK_EQ(clientid_owners_size(owners), 6);
	CHECK(clientid_owners_owner(owners, "spray7", 400) == NULL);   /* the longest idle went */
	CHECK_STR(clientid_owners_owner(owners, "live", 400), "bob");
	/* A user whose idle bindings are all taken up again (their per-user
	 * record goes with the last one) and then left again is bounded the
	 * same way. */
	for(int i = 7; i < 10; i++){
		snprintf(id, sizeof(id), "spray%d", i);
		if(!clientid_owners_owner(owners, id, 500)) continue;
		CHECK_EQ(clientid_owners_connected(owners, id, "mallory", &conns[i], 500), 0);
	}
	for(int i = 15; i < 19; i++){
		snprintf(id, sizeof(id), "again%d", i);
		CHECK_EQ(clientid_owners_connected(owners, id, "mallory", &conns[i], 600 + i), 0);
		clientid_owners_disconnected(owners, &conns[i], 600 + i);
	}
	CHECK(clientid_owners_owner(owners, "again15", 700) == NULL);    /* mallory keeps 3 idle */
	CHECK_STR(clientid_owners_owner(owners, "again18", 700), "mallory");
	CHECK_STR(clientid_owners_owner(owners, "spray9", 700), "mallory"); /* held: never dropped */
	clientid_owners_free(owners);
}

/* Saved by one broker, restored by the next: held ones as idle from the
 * save, idle ones keeping their age (wall clock), bad lines skipped. */
static void clientid_bindings_survive_a_restart_through_the_file(void)
{
	struct clientid_owners *before = clientid_owners_new(100000, 100, 10);
	struct clientid_owners *after = clientid_owners_new(100000, 100, 10);
	char dir[] = "/tmp/chat-clientids-XXXXXX", path[sizeof(dir) + 8], err[256];
	size_t skipped = 0;
	FILE *fp;

	if(!CHECK(before && after && mkdtemp(dir))) goto out;
	if(!CHECK(snprintf(path, sizeof(path), "%s/ids", dir) < (int)sizeof(path))) goto out;
	CHECK_EQ(clientid_store_load(path, after, 0, 0, &skipped, err, sizeof(err)), 0);   /* none yet */
	CHECK_EQ(clientid_owners_connected(before, "bob-phone", "bob", &conn_a, 1000), 0);
	CHECK_EQ(clientid_owners_connected(before, "carol-pc", "carol", &conn_b, 1000), 0);
	clientid_owners_disconnected(before, &conn_b, 5000);
	/* Saved at monotonic 9000 ms = wall 1,000,009,000 ms. */
	CHECK_EQ(clientid_store_save(path, before, 9000, 1000009000LL, err, sizeof(err)), 0);
	fp = fopen(path, "a");
	if(CHECK(fp != NULL)){
		fputs("no tabs here\nbad/id\tbob\t1\nx\tbob\tsoon\n", fp);
		fclose(fp);
	}
	/* The next broker starts at monotonic 500 ms, wall 1,000,010,000 ms. */
	CHECK_EQ(clientid_store_load(path, after, 500, 1000010000LL, &skipped, err, sizeof(err)), 2);
	CHECK_EQ(skipped, 3);
	CHECK_STR(clientid_owners_owner(after, "bob-phone", 600), "bob");
	CHECK_STR(clientid_owners_owner(after, "carol-pc", 600), "carol");
	CHECK_EQ(clientid_owners_connected(after, "carol-pc", "bob", &conn_c, 600), -1);
	/* carol's went idle 4 s before the save, 5 s before the restart
	 * (monotonic -4500 now); bob's at the save (-500). */
	CHECK_STR(clientid_owners_owner(after, "carol-pc", 95500), "carol");
	CHECK(clientid_owners_owner(after, "carol-pc", 95501) == NULL);
	CHECK_STR(clientid_owners_owner(after, "bob-phone", 99500), "bob");
	CHECK(clientid_owners_owner(after, "bob-phone", 99501) == NULL);
	unlink(path);
	rmdir(dir);
out:
	clientid_owners_free(before);
	clientid_owners_free(after);
}

static const char acl_text[] =
	"# IoT devices\n"
	"topic read public/#\n"
	"\n"
	"user sensor1\n"
	"topic write sensors/sensor1/#\n"
	"topic readwrite shared/ping\n"
	"topic deny sensors/sensor1/secret\n"
	"topic sensors/sensor1/both\n"
	"\n"
	"user dashboard\n"
	"topic read sensors/#\n"
	"topic deny sensors/+/secret\n"
	"topic read $SYS/broker/uptime\n"
	"\n"
	"pattern write devices/%u/state\n"
	"pattern read devices/%c/cmd\n"
	"pattern deny devices/%u/locked\n";

static struct acl_file *parse_or_fail(const char *text)
{
	struct acl_file *file = NULL;
	char err[256] = "";

	if(acl_file_parse(text, "test.acl", &file, err, sizeof(err))){
		printf("    parse error: %s\n", err);
		return NULL;
	}
	return file;
}

static void acl_file_user_rules_and_deny_first(void)
{
	struct acl_file *f = parse_or_fail(acl_text);

	if(!CHECK(f != NULL)) return;
	CHECK_EQ(acl_file_rule_count(f), 11);
	CHECK_EQ(acl_file_decide(f, "sensor1", "s1", ACL_WRITE, "sensors/sensor1/temp"), ACL_ALLOW);
	CHECK_EQ(acl_file_decide(f, "sensor1", "s1", ACL_READ, "sensors/sensor1/temp"), ACL_DENY);  /* write only */
	CHECK_EQ(acl_file_decide(f, "sensor1", "s1", ACL_WRITE, "sensors/sensor2/temp"), ACL_DENY);
	CHECK_EQ(acl_file_decide(f, "sensor1", "s1", ACL_WRITE, "sensors/sensor1/secret"), ACL_DENY); /* deny wins */
	CHECK_EQ(acl_file_decide(f, "sensor1", "s1", ACL_READ, "sensors/sensor1/both"), ACL_ALLOW);  /* no word = readwrite */
	CHECK_EQ(acl_file_decide(f, "sensor1", "s1", ACL_WRITE, "shared/ping"), ACL_ALLOW);
	CHECK_EQ(acl_file_decide(f, "dashboard", "d1", ACL_READ, "sensors/sensor1/temp"), ACL_ALLOW);
	CHECK_EQ(acl_file_decide(f, "dashboard", "d1", ACL_READ, "sensors/sensor1/secret"), ACL_DENY);
	CHECK_EQ(acl_file_decide(f, "dashboard", "d1", ACL_WRITE, "sensors/sensor1/temp"), ACL_DENY);
	/* Rules before any "user" line are for clients without a user name. */
	CHECK_EQ(acl_file_decide(f, NULL, "anon", ACL_READ, "public/news"), ACL_ALLOW);
	CHECK_EQ(acl_file_decide(f, "sensor1", "s1", ACL_READ, "public/news"), ACL_DENY);
	/* Nothing matches: denied. Unknown users get patterns only. */
	CHECK_EQ(acl_file_decide(f, "nobody", "n1", ACL_READ, "sensors/sensor1/temp"), ACL_DENY);
	CHECK_EQ(acl_file_decide(f, "sensor1", "s1", ACL_UNSUBSCRIBE, "anything/#"), ACL_ALLOW);
	acl_file_free(f);
}

static void acl_file_patterns_substitute_user_and_client(void)
{
	struct acl_file *f = parse_or_fail(acl_text);

	if(!CHECK(f != NULL)) return;
	CHECK_EQ(acl_file_decide(f, "lamp7", "c-9", ACL_WRITE, "devices/lamp7/state"), ACL_ALLOW);
	CHECK_EQ(acl_file_decide(f, "lamp7", "c-9", ACL_WRITE, "devices/lamp8/state"), ACL_DENY);
	CHECK_EQ(acl_file_decide(f, "lamp7", "c-9", ACL_READ, "devices/c-9/cmd"), ACL_ALLOW);
	CHECK_EQ(acl_file_decide(f, "lamp7", "c-9", ACL_READ, "devices/lamp7/cmd"), ACL_DENY);
	CHECK_EQ(acl_file_decide(f, "lamp7", "c-9", ACL_WRITE, "devices/lamp7/locked"), ACL_DENY);
	/* Names holding wildcards could widen a pattern: never allowed. */
	CHECK_EQ(acl_file_decide(f, "a+", "c", ACL_WRITE, "devices/a+/state"), ACL_DENY);
	CHECK_EQ(acl_file_decide(f, "#", "c", ACL_WRITE, "devices/x/state"), ACL_DENY);
	CHECK_EQ(acl_file_decide(f, "u", "c/#", ACL_READ, "devices/c/x/cmd"), ACL_DENY);
	acl_file_free(f);
}

static void acl_file_subscriptions_and_dollar_topics(void)
{
	struct acl_file *f = parse_or_fail(acl_text);

	if(!CHECK(f != NULL)) return;
	CHECK_EQ(acl_file_decide(f, "dashboard", "d", ACL_SUBSCRIBE, "sensors/#"), ACL_ALLOW);
	CHECK_EQ(acl_file_decide(f, "dashboard", "d", ACL_SUBSCRIBE, "sensors/+/temp"), ACL_ALLOW);
	CHECK_EQ(acl_file_decide(f, "dashboard", "d", ACL_SUBSCRIBE, "#"), ACL_ALLOW);   /* overlaps a read rule */
	CHECK_EQ(acl_file_decide(f, "dashboard", "d", ACL_SUBSCRIBE, "sensors/x/secret"), ACL_DENY);
	CHECK_EQ(acl_file_decide(f, "dashboard", "d", ACL_SUBSCRIBE, "other/#"), ACL_DENY);
	CHECK_EQ(acl_file_decide(f, "sensor1", "s", ACL_SUBSCRIBE, "sensors/sensor1/temp"), ACL_DENY); /* write only */
	/* '$' topics match only rules written with '$'. */
	CHECK_EQ(acl_file_decide(f, "dashboard", "d", ACL_READ, "$SYS/broker/uptime"), ACL_ALLOW);
	CHECK_EQ(acl_file_decide(f, "dashboard", "d", ACL_READ, "$SYS/broker/load"), ACL_DENY);
	acl_file_free(f);
}

static void acl_file_refuses_bad_lines(void)
{
	static const char *const bad[] = {
		"user\n", "topic\n", "frobnicate read x\n", "topic read a/#/b\n",
		"topic read a+/b\n", "user a+b\n", "pattern deny #x\n",
	};
	struct acl_file *f = NULL;
	char err[256];

	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		err[0] = '\0';
		if(!CHECK(acl_file_parse(bad[i], "bad.acl", &f, err, sizeof(err)) == -1)) printf("    input: %s", bad[i]);
		CHECK(f == NULL);
		CHECK(strstr(err, "bad.acl:1") != NULL || strstr(err, "bad.acl") != NULL);
	}
	/* A topic may hold spaces, as in Mosquitto. */
	f = parse_or_fail("user u\ntopic read room a/b c\n");
	if(CHECK(f != NULL)) CHECK_EQ(acl_file_decide(f, "u", "c", ACL_READ, "room a/b c"), ACL_ALLOW);
	acl_file_free(f);
	CHECK(acl_file_load("/nonexistent/acl", &f, err, sizeof(err)) == -1 && strstr(err, "/nonexistent/acl"));
}

static void acl_filter_overlap_and_cover(void)
{
	CHECK(acl_filters_overlap("a/+/c", "a/b/#"));
	CHECK(acl_filters_overlap("#", "x/y"));
	CHECK(acl_filters_overlap("a/b", "a/b"));
	CHECK(!acl_filters_overlap("a/b", "a/c"));
	CHECK(!acl_filters_overlap("a/b", "a/b/c"));
	CHECK(acl_filters_overlap("a/b/#", "a/b"));  /* '#' matches the parent too */
	CHECK(acl_filter_covers("a/#", "a/b/+/d"));
	CHECK(acl_filter_covers("a/+/c", "a/x/c"));
	CHECK(!acl_filter_covers("a/+/c", "a/#"));
	CHECK(!acl_filter_covers("a/b", "a/+"));
	CHECK(acl_filter_covers("#", "#"));
	CHECK(!acl_filter_covers("a/b/c", "a/b"));
	CHECK(acl_filter_covers("a/b/#", "a/b"));
	CHECK(!acl_filters_overlap("a/b/c/#", "a/b"));
}

static const struct test_case cases[] = {
	TEST_ENTRY(cache_hits_only_the_same_user_password_and_hash),
	TEST_ENTRY(cache_expires_with_jitter_and_clears),
	TEST_ENTRY(cache_is_bounded_and_can_be_off),
	TEST_ENTRY(flood_locks_a_name_after_threshold_with_doubling_delay),
	TEST_ENTRY(flood_counts_addresses_and_forgets),
	TEST_ENTRY(flood_memory_is_bounded),
	TEST_ENTRY(flood_slows_a_name_after_one_failure_then_locks_it),
	TEST_ENTRY(flood_one_address_against_many_names_is_bounded_then_locked),
	TEST_ENTRY(flood_many_addresses_against_one_name_is_bounded_then_locked),
	TEST_ENTRY(flood_budget_counts_checks_node_wide),
	TEST_ENTRY(flood_first_retry_after_a_typo_is_checked_with_any_budget),
	TEST_ENTRY(clientid_belongs_to_its_first_user_while_held_and_held_ms_after),
	TEST_ENTRY(clientid_takeover_by_the_same_user_keeps_the_binding),
	TEST_ENTRY(clientid_idle_bindings_are_bounded),
	TEST_ENTRY(clientid_bindings_survive_a_restart_through_the_file),
	TEST_ENTRY(acl_file_user_rules_and_deny_first),
	TEST_ENTRY(acl_file_patterns_substitute_user_and_client),
	TEST_ENTRY(acl_file_subscriptions_and_dollar_topics),
	TEST_ENTRY(acl_file_refuses_bad_lines),
	TEST_ENTRY(acl_filter_overlap_and_cover),
};

const struct test_suite plugin_parts_suite = { "plugin_parts", cases, TEST_COUNT(cases) };
