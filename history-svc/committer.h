/* committer.h: history-svc's group commit. The intake (Paho's thread) hands
 * each checked room message to committer_take, which writes it to the
 * intake log (intake_log.h) and queues it; from then on Paho may drop its
 * own copy and acknowledge more. A committer thread with its own MariaDB
 * connection takes everything queued (up to batch_max) and stores it in one
 * transaction (store_batch), then sends the receipts (outbox.h) and moves
 * the log's checkpoint. A database outage only makes the queue (and the log) grow
 * until it returns; past max_pending the intake is told to wait, so Paho
 * keeps the rest unacknowledged on the broker. */
#ifndef HISTORY_COMMITTER_H
#define HISTORY_COMMITTER_H

#include <stdbool.h>
#include <stddef.h>

#include "history.h"

struct committer;

struct committer_opts {
	const char *dir;     /* where the intake log lives */
	long batch_max;      /* most messages per transaction */
	long max_pending;    /* most messages queued before the intake waits */
	long rotate_bytes;   /* size of one intake log file */
};

/* Opens the intake log in opts->dir, queues what it holds beyond its
 * checkpoint (stored first, before anything new), and starts the thread.
 * svc must outlive the committer. Returns it, or NULL with a message. */
struct committer *committer_start(struct history_svc *svc, const struct committer_opts *opts,
		char *err, size_t errlen);

/* Logs and queues one checked payload (a message or an event, room_msg.h;
 * msg is not kept). Returns 1 when it is safely taken (the caller may let
 * Paho acknowledge it), 0 when it cannot be taken now (queue full, log not
 * writable, out of memory): keep it and offer it again later. */
int committer_take(struct committer *c, const char *room, const char *sender, const struct room_msg *msg);

/* Waits up to timeout_ms until every message taken before the call is
 * stored (or refused), so that a request answered next sees them.
 * Returns true when that is so, false on timeout. */
bool committer_wait_stored(struct committer *c, long timeout_ms);

/* Stops the thread after the batch in hand (queued messages stay in the
 * log for the next start), closes and frees; NULL allowed. */
void committer_stop(struct committer *c);

#endif
