/* requests.h: history-svc's request/response API (docs/PROTOCOL.md). */
#ifndef HISTORY_REQUESTS_H
#define HISTORY_REQUESTS_H

#include <stddef.h>

#include "history.h"

#include <cJSON.h>

/* One request kind, its name first (request_envelope.h looks it up by
 * name). run replies (or replies with an error) and returns 0, or returns
 * -1 on a database failure having sent nothing (the caller rolls back,
 * reconnects and retries). */
struct request_op {
	const char *name;
	int (*run)(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);
};

/* Handles one request published by user on chat/v1/users/{user}/req/history
 * and publishes the reply on the user's inbox. */
void requests_handle(struct history_svc *svc, const char *user, const void *payload, size_t len);

#endif
