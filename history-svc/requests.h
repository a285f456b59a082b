/* requests.h: history-svc's request/response API (docs/PROTOCOL.md). */
#ifndef HISTORY_REQUESTS_H
#define HISTORY_REQUESTS_H

#include <stddef.h>

#include "history.h"

#include <cJSON.h>

/* One request kind: run replies (or replies with an error) and returns 0,
 * or returns -1 on a database failure having sent nothing (the caller
 * rolls back, reconnects and retries). */
struct request_op {
	const char *name;
	int (*run)(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);
};

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

/* Handles one request published by user on chat/v1/users/{user}/req/history
 * and publishes the reply on the user's inbox. */
void requests_handle(struct history_svc *svc, const char *user, const void *payload, size_t len);

#endif
