/* test_chat_ops.c */
#include "test.h"
static void placeholder(void) {}
static const struct test_case cases[] = { TEST_ENTRY(placeholder) };
const struct test_suite chat_ops_suite = { "chat_ops", cases, TEST_COUNT(cases) };
