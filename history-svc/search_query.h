/* search_query.h: what the search op (search.h) makes of a query text,
 * as pure functions: the full-text AGAINST text, the LIKE pattern and the
 * snippet of a found message. Tested alone (tests/unit/test_search.c). */
#ifndef HISTORY_SEARCH_QUERY_H
#define HISTORY_SEARCH_QUERY_H

#include <stddef.h>

/* Room search_snippet needs in its out buffer. */
#define SEARCH_SNIPPET_MAX 136

/* Builds the boolean-mode AGAINST text for query (len bytes) into out
 * (outlen bytes): +"word" for each run of letters, digits, '_' and
 * non-ASCII bytes of 3 to 84 characters, so that no operator of the query
 * is ever interpreted. Returns the number of words, 0 when none qualifies,
 * -1 when out is too small. */
int search_against_text(const char *query, size_t len, char *out, size_t outlen);

/* Builds into out a PCRE pattern (MariaDB's REGEXP) that holds when a
 * text has each word search_against_text takes as a whole word:
 * "(*UCP)(?s)^(?=.*\\bword\\b)..." (words hold no regex syntax). Returns
 * the number of words, or -1 when out is too small. */
int search_regexp_pattern(const char *query, size_t len, char *out, size_t outlen);

/* Builds the LIKE pattern "%query%" with '!' escaping '!', '%' and '_'
 * into out. Returns 0, or -1 when out is too small. */
int search_like_pattern(const char *query, size_t len, char *out, size_t outlen);

/* Writes into out (outlen >= SEARCH_SNIPPET_MAX) at most ~120 bytes of body around the
 * first case-insensitive (ASCII) occurrence of query, cut on UTF-8
 * character boundaries, with "…" where text was cut. */
void search_snippet(const char *body, size_t body_len, const char *query, char *out, size_t outlen);

#endif
