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

#endif
