/* requests.h: history-svc's request/response API (docs/PROTOCOL.md). */
#ifndef HISTORY_REQUESTS_H
#define HISTORY_REQUESTS_H

#include <stddef.h>

#include "history.h"

/* Handles one request published by user on chat/v1/users/{user}/req/history
 * and publishes the reply on the user's inbox. */
void requests_handle(struct history_svc *svc, const char *user, const void *payload, size_t len);

#endif
