/* test.h: the minimal unit-test framework used by tests/unit/.
 * A test is a void function holding CHECKs; each test file exports a table
 * of its tests, which test_main.c runs in order. A failed CHECK prints
 * file:line and the failed expression and marks the running test failed;
 * the test goes on, so one run shows every failed check. */
#ifndef CHAT_UNIT_TEST_H
#define CHAT_UNIT_TEST_H

#include <stdbool.h>
#include <stddef.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

/* One file's tests: a table and its length. */
struct test_suite {
	const char *name;
	const struct test_case *cases;
	size_t count;
};

#define TEST_ENTRY(fn) { #fn, fn }
#define TEST_COUNT(table) (sizeof(table) / sizeof((table)[0]))

/* Each returns ok, so a test can stop early: if(!CHECK(p)) return; */
bool test_check(bool ok, const char *expr, const char *file, int line);
bool test_check_long(long long got, long long want, const char *expr,
		const char *file, int line);
bool test_check_str(const char *got, const char *want, const char *expr,
		const char *file, int line);

/* CHECK(cond): cond must hold. */
#define CHECK(cond) test_check((cond) ? true : false, #cond, __FILE__, __LINE__)
/* CHECK_EQ(got, want): integers (enums included) equal; prints both. */
#define CHECK_EQ(got, want) test_check_long((long long)(got), (long long)(want), \
		#got " == " #want, __FILE__, __LINE__)
/* CHECK_STR(got, want): strings equal (a NULL got fails); prints both. */
#define CHECK_STR(got, want) test_check_str((got), (want), \
		#got " == " #want, __FILE__, __LINE__)

extern const struct test_suite common_suite;
extern const struct test_suite acl_suite;
extern const struct test_suite plugin_parts_suite;
extern const struct test_suite send_rate_suite;
extern const struct test_suite intake_log_suite;
extern const struct test_suite presence_suite;
extern const struct test_suite client_suite;
extern const struct test_suite wire_rules_suite;
extern const struct test_suite metrics_suite;
extern const struct test_suite webpush_suite;
extern const struct test_suite tokens_suite;
extern const struct test_suite chat_ops_suite;
extern const struct test_suite search_suite;

#endif
