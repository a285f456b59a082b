/* test_main.c: runs every unit test suite and reports the result.
 * Prints each failed check as it happens and each failed test's name; the
 * last line is exactly "N passed, M failed" counted in test functions (a
 * test passes when all its checks pass). Exits 1 when any test failed. */
#include <stdio.h>
#include <string.h>

#include "test.h"

static unsigned long current_failures;
static const char *current_test = "?";

static void report(const char *file, int line, const char *expr)
{
	current_failures++;
	printf("%s:%d: %s: CHECK(%s) failed\n", file, line, current_test, expr);
}

bool test_check(bool ok, const char *expr, const char *file, int line)
{
	if(!ok) report(file, line, expr);
	return ok;
}

bool test_check_long(long long got, long long want, const char *expr,
		const char *file, int line)
{
	if(got == want) return true;
	report(file, line, expr);
	printf("    got %lld, want %lld\n", got, want);
	return false;
}

bool test_check_str(const char *got, const char *want, const char *expr,
		const char *file, int line)
{
	if(got && want && !strcmp(got, want)) return true;
	report(file, line, expr);
	printf("    got %s%s%s, want \"%s\"\n", got ? "\"" : "", got ? got : "NULL",
			got ? "\"" : "", want ? want : "(null)");
	return false;
}

int main(void)
{
	const struct test_suite *suites[] = { &common_suite, &acl_suite, &plugin_parts_suite, &send_rate_suite, &intake_log_suite,
		&presence_suite, &client_suite, &wire_rules_suite, &metrics_suite, &webpush_suite, &tokens_suite, &search_suite, &chat_ops_suite };
	unsigned long passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for(size_t s = 0; s < sizeof(suites) / sizeof(suites[0]); s++){
		for(size_t i = 0; i < suites[s]->count; i++){
			const struct test_case *tc = &suites[s]->cases[i];

			current_test = tc->name;
			current_failures = 0;
			tc->fn();
			if(current_failures == 0){
				passed++;
			}else{
				failed++;
				printf("FAIL %s/%s (%lu failed checks)\n", suites[s]->name, tc->name,
						current_failures);
			}
		}
	}
	printf("%lu passed, %lu failed\n", passed, failed);
	return failed ? 1 : 0;
}
