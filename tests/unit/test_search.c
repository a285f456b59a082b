/* test_search.c: what history-svc's search makes of a query text
 * (history-svc/search_query.c): no full-text operator survives into the
 * AGAINST text, LIKE wildcards are escaped, snippets are short valid UTF-8
 * around the hit. */
#include <stdio.h>
#include <string.h>

#include "../../history-svc/search_query.h"
#include "test.h"

static const char *against(const char *q, int *words)
{
	static char out[512];

	*words = search_against_text(q, strlen(q), out, sizeof(out));
	return out;
}

static void test_against_quotes_each_word_and_drops_operators(void)
{
	int words;

	CHECK_STR(against("hello world", &words), "+\"hello\" +\"world\"");
	CHECK_EQ(words, 2);
	CHECK_STR(against("+foo -bar* \"baz\" @qux (quux) ~abc <def> 'ghi'; --jkl \\mno", &words),
			"+\"foo\" +\"bar\" +\"baz\" +\"qux\" +\"quux\" +\"abc\" +\"def\" +\"ghi\" +\"jkl\" +\"mno\"");
	CHECK_EQ(words, 10);
	/* Words under 3 characters are not in the index; '_' and non-ASCII
	 * letters are part of words, and "été" is 3 characters. */
	CHECK_STR(against("a bc a_b été", &words), "+\"a_b\" +\"été\"");
	CHECK_EQ(words, 2);
	against("+ - * \" @ ( ) ~ < > ' ; --", &words);
	CHECK_EQ(words, 0);
	against("", &words);
	CHECK_EQ(words, 0);
}

static void test_against_reports_a_small_buffer(void)
{
	char out[8];

	CHECK_EQ(search_against_text("hello", 5, out, sizeof(out)), -1);
}

static void test_regexp_pattern_wants_each_word_whole(void)
{
	char out[256];

	CHECK_EQ(search_regexp_pattern("+foo (bar) a", 12, out, sizeof(out)), 2);
	CHECK_STR(out, "(*UCP)(?s)^(?=.*\\bfoo\\b)(?=.*\\bbar\\b)");
	CHECK_EQ(search_regexp_pattern(".*[x]{2}$ ok", 12, out, sizeof(out)), 0);
	CHECK_STR(out, "(*UCP)(?s)^");
	CHECK_EQ(search_regexp_pattern("hello", 5, out, 16), -1);
}

static void test_like_pattern_escapes_wildcards(void)
{
	char out[64];

	CHECK_EQ(search_like_pattern("100%_a!b'\\", 10, out, sizeof(out)), 0);
	CHECK_STR(out, "%100!%!_a!!b'\\%");
	CHECK_EQ(search_like_pattern("abc", 3, out, 5), -1);
}

static int valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while(*p){
		int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;

		if(n < 0) return 0;
		p++;
		while(n-- > 0){
			if((*p & 0xC0) != 0x80) return 0;
			p++;
		}
	}
	return 1;
}

static void test_snippet_short_valid_utf8_around_the_hit(void)
{
	char body[1200], out[SEARCH_SNIPPET_MAX];
	size_t at = 0;

	/* 2-byte characters, then the word, then more. */
	for(int i = 0; i < 300; i++) at += (size_t)snprintf(body + at, sizeof(body) - at, "é");
	at += (size_t)snprintf(body + at, sizeof(body) - at, " Needle ");
	for(int i = 0; i < 200; i++) at += (size_t)snprintf(body + at, sizeof(body) - at, "ü");
	search_snippet(body, at, "needle", out, sizeof(out));
	CHECK(strstr(out, "Needle") != NULL);
	CHECK(strlen(out) <= 126);
	CHECK(valid_utf8(out));
	CHECK(!strncmp(out, "\xE2\x80\xA6", 3));
	search_snippet("short text", 10, "text", out, sizeof(out));
	CHECK_STR(out, "short text");
	search_snippet("no hit here", 11, "absent", out, sizeof(out));
	CHECK_STR(out, "no hit here");
}

static const struct test_case cases[] = {
	TEST_ENTRY(test_against_quotes_each_word_and_drops_operators),
	TEST_ENTRY(test_against_reports_a_small_buffer),
	TEST_ENTRY(test_regexp_pattern_wants_each_word_whole),
	TEST_ENTRY(test_like_pattern_escapes_wildcards),
	TEST_ENTRY(test_snippet_short_valid_utf8_around_the_hit),
};

const struct test_suite search_suite = { "search", cases, TEST_COUNT(cases) };
