/* account_ops.h: account self-service requests (docs/PROTOCOL.md 4.6):
 * `token` (a new login token, shown once), `tokens` (list), `revoke_token`
 * and `password`. Each is a struct request_op run function: it replies, or
 * returns -1 on a database failure (requests.c retries and answers
 * unavailable). Replies to changes that the brokers must apply (a new or
 * revoked token, a new password) wait membership_settle_ms (reply_queue.h),
 * so that when the client reads the reply every node already agrees. */
#ifndef HISTORY_ACCOUNT_OPS_H
#define HISTORY_ACCOUNT_OPS_H

#include <cJSON.h>

#include "history.h"

/* Most tokens a user may hold at once (not revoked, not expired). */
#define ACCOUNT_TOKENS_MAX 50
/* Longest lifetime_s a `token` request may ask (10 years). */
#define ACCOUNT_TOKEN_LIFETIME_MAX 315360000L
/* Longest password, in bytes, as chatctl (which reads them into 256 bytes). */
#define ACCOUNT_PASSWORD_MAX 254

int account_token(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);
int account_tokens(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);
int account_revoke_token(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);
int account_password(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);

#endif
