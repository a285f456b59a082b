/* history_op.h: the history request (docs/PROTOCOL.md 4.1): a page of a
 * room, or of one thread, in the current state (history_fold.h). */
#ifndef HISTORY_OP_H
#define HISTORY_OP_H

#include <cJSON.h>

#include "history.h"

/* Answers user's history request req (req_id echoed) on their inbox.
 * Returns 0 after replying (data or an error), -1 on a database failure
 * having sent nothing (requests.c rolls back and retries). */
int history_op(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);

#endif
