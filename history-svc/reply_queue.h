/* reply_queue.h: replies that must wait. A membership change is in MariaDB
 * at once but reaches the brokers' auth plugins only within their refresh
 * interval; replying after a settle delay means that when a client reads
 * "joined", its next subscribe is already allowed everywhere. Replies wait
 * here, in order, and go out from the service's idle tick. */
#ifndef HISTORY_REPLY_QUEUE_H
#define HISTORY_REPLY_QUEUE_H

#include "history.h"

/* Queues obj (printed now; not freed) for user's inbox after delay_ms. */
void reply_queue_push(struct history_svc *svc, const char *user, const void *obj, long delay_ms);

/* Publishes every queued reply that is due. */
void reply_queue_flush(struct history_svc *svc);

/* Drops (without sending) everything still queued; at shutdown. */
void reply_queue_clear(struct history_svc *svc);

#endif
