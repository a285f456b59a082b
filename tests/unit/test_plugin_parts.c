/* test_plugin_parts.c: unit tests for the plugin's login cache, flood
 * protection and Mosquitto-syntax ACL files (built with plugin_alloc.h on
 * calloc/free, since no broker runs here). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "../../auth-plugin/acl_file.h"
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

static const struct flood_opts flood_defaults = {
	.user_threshold = 3, .address_threshold = 10, .base_delay_s = 1,
	.lockout_s = 8, .window_s = 60, .max_entries = 100,
};

static void flood_locks_a_name_after_threshold_with_doubling_delay(void)
{
	struct flood *flood = flood_new(&flood_defaults);

	if(!CHECK(flood != NULL)) return;
	flood_failure(flood, "alice", "10.0.0.1", 100);
	flood_failure(flood, "alice", "10.0.0.1", 100);
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "alice", 100), 0);   /* below threshold */
	flood_failure(flood, "alice", "10.0.0.1", 100);
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "alice", 100), 1);   /* 1 s */
	flood_failure(flood, "alice", "10.0.0.1", 101);
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "alice", 101), 2);   /* 2 s */
	flood_failure(flood, "alice", "10.0.0.1", 103);
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "alice", 103), 4);
	for(int i = 0; i < 10; i++) flood_failure(flood, "alice", "10.0.0.2", 107);
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "alice", 107), 8);   /* capped at lockout */
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "alice", 115), 0);   /* and it ends */
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "bob", 107), 0);     /* others untouched */
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
		flood_failure(flood, user, "10.0.0.9", 50);
	}
	CHECK(flood_locked_for(flood, FLOOD_ADDRESS, "10.0.0.9", 50) > 0);
	CHECK_EQ(flood_locked_for(flood, FLOOD_ADDRESS, "10.0.0.8", 50), 0);
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "guess1", 50), 0);
	/* A success resets the name; the window forgets old failures. */
	flood_failure(flood, "carol", NULL, 50);
	flood_failure(flood, "carol", NULL, 50);
	flood_success(flood, "carol", 51);
	flood_failure(flood, "carol", NULL, 52);
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "carol", 52), 0);
	flood_failure(flood, "dave", NULL, 0);
	flood_failure(flood, "dave", NULL, 0);
	flood_failure(flood, "dave", NULL, 100);   /* the first two are past the window */
	CHECK_EQ(flood_locked_for(flood, FLOOD_USER, "dave", 100), 0);
	flood_expire(flood, 1000);
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
		flood_failure(flood, user, user, 10);
	}
	CHECK(flood_size(flood, FLOOD_USER) <= 50);
	CHECK(flood_size(flood, FLOOD_ADDRESS) <= 50);
	flood_free(flood);
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
	TEST_ENTRY(acl_file_user_rules_and_deny_first),
	TEST_ENTRY(acl_file_patterns_substitute_user_and_client),
	TEST_ENTRY(acl_file_subscriptions_and_dollar_topics),
	TEST_ENTRY(acl_file_refuses_bad_lines),
	TEST_ENTRY(acl_filter_overlap_and_cover),
};

const struct test_suite plugin_parts_suite = { "plugin_parts", cases, TEST_COUNT(cases) };
