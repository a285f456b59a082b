/* search.h: the search op (docs/PROTOCOL.md 4.6): messages of the rooms
 * the requester is a member of now (or of one of them), newest first,
 * paged with an opaque cursor, found with MariaDB's full-text index on
 * messages.body (db/migrations/0007_search.sql). */
#ifndef HISTORY_SEARCH_H
#define HISTORY_SEARCH_H

#include <stddef.h>

#include <cJSON.h>

#include "history.h"

/* search: {"query", "room"?, "limit"?, "before"?}: {"results": [{"room",
 * "seq","sender","ts","snippet"}], "next": cursor or null}. A struct
 * request_op run function. */
int search_run(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);

/* Builds the boolean-mode AGAINST text for query (len bytes) into out
 * (outlen bytes): +"word" for each run of letters, digits, '_' and
 * non-ASCII bytes of 3 to 84 characters, so that no operator of the query
 * is ever interpreted. Returns the number of words, 0 when none qualifies,
 * -1 when out is too small. Exposed for the unit tests. */
int search_against_text(const char *query, size_t len, char *out, size_t outlen);

/* Builds the LIKE pattern "%query%" with '!' escaping '!', '%' and '_'
 * into out. Returns 0, or -1 when out is too small. */
int search_like_pattern(const char *query, size_t len, char *out, size_t outlen);

/* Writes into out (outlen >= 130) at most ~120 bytes of body around the
 * first case-insensitive (ASCII) occurrence of query, cut on UTF-8
 * character boundaries, with "…" where text was cut. */
void search_snippet(const char *body, size_t body_len, const char *query, char *out, size_t outlen);

#endif
