/* outbox.h: everything history-svc sends to a user's inbox leaves here:
 * receipts and errors for room messages (from the intake and the
 * committer) and request replies (replies.h). The last step of a message's
 * way through the service: intake check -> committer -> store -> outbox. */
#ifndef HISTORY_OUTBOX_H
#define HISTORY_OUTBOX_H

#include "history.h"
#include "intake_log.h"
#include "store.h"

/* Sends obj (a JSON object, not freed) to user's inbox at QoS 1. */
void outbox_send(struct history_svc *svc, const char *user, const void *obj);

/* Sends the sender of a refused room message an error on their inbox
 * (docs/PROTOCOL.md 3.3) and counts it. msg_id may be NULL. Call with
 * svc->lock held. */
void outbox_message_error(struct history_svc *svc, const char *sender, const char *room,
		const char *msg_id, const char *code, const char *message);

/* Tells the sender what became of a stored message or event: a receipt
 * with its seq (and kind), or an error; counts it. After a new one it
 * also announces a delete on the room's meta topic and tells each
 * mentioned member on their inbox. Call with svc->lock held. */
void outbox_report(struct history_svc *svc, const struct intake_msg *msg, const struct store_result *result);

#endif
