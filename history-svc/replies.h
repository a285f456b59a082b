/* replies.h: building and sending request replies (docs/PROTOCOL.md 4),
 * shared by the ops in requests.c and room_admin.c. */
#ifndef HISTORY_REPLIES_H
#define HISTORY_REPLIES_H

#include <cJSON.h>

#include "db.h"
#include "history.h"

/* Returns a reply object {"type":"reply","req_id","op","ok"} the caller
 * fills, sends and frees with cJSON_Delete; NULL when out of memory. */
cJSON *reply_new(const char *op, const char *req_id, int ok);

/* Sends user an error reply with code and message (and counts it). */
void reply_error(struct history_svc *svc, const char *user, const char *op,
		const char *req_id, const char *code, const char *message);

/* Replies to op with {key: [one item per row]}: runs sql with params, and
 * row_fn (given the JSON array as its ud) adds the items. Returns 0 after
 * replying, -1 on a database failure (nothing sent). */
int reply_list(struct history_svc *svc, const char *user, const char *op, const char *req_id,
		const char *key, const char *sql, const struct db_param *params, int nparams, db_row_fn row_fn);

#endif
