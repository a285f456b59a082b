/* test_send_rate.c: unit tests of the plugin's per-user send rate limit
 * (auth-plugin/send_rate.c), on a clock the tests drive (built with
 * plugin_alloc.h on calloc/free). */
#include <stdio.h>

#include "test.h"
#include "../../auth-plugin/send_rate.h"

static struct send_rate *limiter(long rate, long burst, long req_rate, long req_burst, size_t max_users)
{
	struct send_rate_opts opts = {
		.rate = { [SEND_ROOM_MSG] = rate, [SEND_REQUEST] = req_rate },
		.burst = { [SEND_ROOM_MSG] = burst, [SEND_REQUEST] = req_burst },
		.max_users = max_users,
	};

	return send_rate_new(&opts);
}

/* How many of n sends at now_ms pass. */
static int passes(struct send_rate *sr, const char *user, enum send_kind kind, int n, long long now_ms)
{
	int ok = 0;

	for(int i = 0; i < n; i++) ok += send_rate_take(sr, user, kind, now_ms, NULL) == SEND_OK;
	return ok;
}

static void send_rate_classifies_topics(void)
{
	CHECK_EQ(send_rate_classify("chat/v1/rooms/lobby/msg/alice"), SEND_ROOM_MSG);
	CHECK_EQ(send_rate_classify("chat/v1/users/alice/req/history"), SEND_REQUEST);
	CHECK_EQ(send_rate_classify("chat/v1/users/alice/req/presence"), SEND_REQUEST);
	CHECK_EQ(send_rate_classify("chat/v1/rooms/lobby/typing/alice"), SEND_UNLIMITED);
	CHECK_EQ(send_rate_classify("chat/v1/rooms/lobby/meta"), SEND_UNLIMITED);
	CHECK_EQ(send_rate_classify("chat/v1/users/alice/inbox"), SEND_UNLIMITED);
	CHECK_EQ(send_rate_classify("sensors/x"), SEND_UNLIMITED);
	CHECK_EQ(send_rate_classify(NULL), SEND_UNLIMITED);
}

/* A full bucket of burst sends, then rate per second, never more. */
static void send_rate_burst_then_rate(void)
{
	struct send_rate *sr = limiter(20, 60, 0, 1, 10);

	if(!CHECK(sr != NULL)) return;
	CHECK_EQ(passes(sr, "alice", SEND_ROOM_MSG, 100, 1000), 60);
	CHECK_EQ(passes(sr, "alice", SEND_ROOM_MSG, 100, 1049), 0);     /* 49 ms: under one token */
	CHECK_EQ(passes(sr, "alice", SEND_ROOM_MSG, 100, 1050), 1);     /* 50 ms: one */
	CHECK_EQ(passes(sr, "alice", SEND_ROOM_MSG, 100, 2050), 20);    /* one second: rate */
	/* A long pause fills the bucket to burst, not beyond. */
	CHECK_EQ(passes(sr, "alice", SEND_ROOM_MSG, 1000, 1000000), 60);
	/* Over t seconds of flooding at most burst + rate * t pass. */
	{
		int total = 0;

		for(long long t = 2000000; t <= 2010000; t += 10) total += passes(sr, "alice", SEND_ROOM_MSG, 5, t);
		CHECK(total <= 60 + 20 * 10 + 1);
		CHECK(total >= 60 + 20 * 10 - 1);
	}
	send_rate_free(sr);
}

/* Each user has their own buckets; room messages and requests are counted
 * apart; a kind with rate 0 and unlimited topics are never refused. */
static void send_rate_users_and_kinds_apart(void)
{
	struct send_rate *sr = limiter(5, 5, 2, 3, 10);

	if(!CHECK(sr != NULL)) return;
	CHECK_EQ(passes(sr, "alice", SEND_ROOM_MSG, 10, 0), 5);
	CHECK_EQ(passes(sr, "bob", SEND_ROOM_MSG, 10, 0), 5);           /* bob is not alice */
	CHECK_EQ(passes(sr, "alice", SEND_REQUEST, 10, 0), 3);          /* requests: their own bucket */
	CHECK_EQ(passes(sr, "alice", SEND_UNLIMITED, 100, 0), 100);
	CHECK_EQ(send_rate_users(sr), 2);
	send_rate_free(sr);

	sr = limiter(0, 1, 1, 1, 10);
	if(!CHECK(sr != NULL)) return;
	CHECK_EQ(passes(sr, "alice", SEND_ROOM_MSG, 1000, 0), 1000);    /* rate 0: no limit */
	CHECK_EQ(passes(sr, "alice", SEND_REQUEST, 10, 0), 1);
	send_rate_free(sr);
	CHECK_EQ(send_rate_take(NULL, "alice", SEND_ROOM_MSG, 0, NULL), SEND_OK);
}

/* The first refusal of a window asks for a log line, with the number of
 * refusals since the last one; the rest of the window is silent. */
static void send_rate_logs_once_per_window(void)
{
	struct send_rate *sr = limiter(1, 1, 0, 1, 10);
	unsigned long long dropped = 0;
	int logs = 0;

	if(!CHECK(sr != NULL)) return;
	CHECK_EQ(send_rate_take(sr, "alice", SEND_ROOM_MSG, 0, &dropped), SEND_OK);
	CHECK_EQ(send_rate_take(sr, "alice", SEND_ROOM_MSG, 0, &dropped), SEND_DROP_LOG);
	CHECK_EQ(dropped, 1);
	for(int i = 0; i < 50; i++){
		enum send_verdict v = send_rate_take(sr, "alice", SEND_ROOM_MSG, 100 * i, &dropped);

		logs += v == SEND_DROP_LOG;
	}
	CHECK_EQ(logs, 0);                                               /* still the first window */
	/* Another user has a window of their own. */
	CHECK_EQ(send_rate_take(sr, "bob", SEND_ROOM_MSG, 500, NULL), SEND_OK);
	CHECK_EQ(send_rate_take(sr, "bob", SEND_ROOM_MSG, 500, &dropped), SEND_DROP_LOG);
	/* Past the window: one more line, counting what was refused in between. */
	while(send_rate_take(sr, "alice", SEND_ROOM_MSG, SEND_RATE_LOG_WINDOW_MS, &dropped) != SEND_DROP_LOG){}
	CHECK(dropped >= 40);
	CHECK_EQ(send_rate_take(sr, "alice", SEND_ROOM_MSG, SEND_RATE_LOG_WINDOW_MS + 1, &dropped), SEND_DROP);
	send_rate_free(sr);
}

/* Memory: an idle user's entry goes once their buckets are full again and
 * their log window is over; the table never holds more than max_users,
 * the least recently used giving way. */
static void send_rate_memory_is_bounded(void)
{
	struct send_rate *sr = limiter(10, 20, 10, 20, 3);
	char name[16];

	if(!CHECK(sr != NULL)) return;
	for(int i = 0; i < 100; i++){
		snprintf(name, sizeof(name), "u%d", i);
		CHECK_EQ(send_rate_take(sr, name, SEND_ROOM_MSG, i, NULL), SEND_OK);
		CHECK(send_rate_users(sr) <= 3);
	}
	CHECK_EQ(send_rate_users(sr), 3);
	/* u97 used again: u98, the least recently used now, gives way first. */
	CHECK_EQ(passes(sr, "u97", SEND_ROOM_MSG, 19, 200), 19);
	CHECK_EQ(send_rate_take(sr, "new", SEND_ROOM_MSG, 201, NULL), SEND_OK);
	CHECK_EQ(passes(sr, "u97", SEND_ROOM_MSG, 5, 201), 1);            /* u97 kept its bucket (1 left + refill) */
	send_rate_expire(sr, 202);
	CHECK_EQ(send_rate_users(sr), 3);                                 /* nobody idle long enough */
	send_rate_expire(sr, 99 + SEND_RATE_LOG_WINDOW_MS);
	CHECK_EQ(send_rate_users(sr), 2);                                 /* u99 gone; u97, new still in their window */
	send_rate_expire(sr, 201 + SEND_RATE_LOG_WINDOW_MS);
	CHECK_EQ(send_rate_users(sr), 0);
	send_rate_free(sr);
}

static const struct test_case cases[] = {
	TEST_ENTRY(send_rate_classifies_topics),
	TEST_ENTRY(send_rate_burst_then_rate),
	TEST_ENTRY(send_rate_users_and_kinds_apart),
	TEST_ENTRY(send_rate_logs_once_per_window),
	TEST_ENTRY(send_rate_memory_is_bounded),
};

const struct test_suite send_rate_suite = { "send_rate", cases, TEST_COUNT(cases) };
