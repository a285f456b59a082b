/* store.h: checked room messages into MariaDB, exactly once with a
 * gapless per-room seq. The committer (committer.h) stores many at once
 * with store_batch and falls back to store_one, message by message, when
 * the batch meets a duplicate; the outbox (outbox.h) tells the sender. */
#ifndef HISTORY_STORE_H
#define HISTORY_STORE_H

#include <stddef.h>

#include "db.h"
#include "intake_log.h"
#include "timefmt.h"

enum store_status {
	STORE_STORED,         /* a new row with a new seq */
	STORE_DUPLICATE,      /* already stored: seq and ts are the first copy's */
	STORE_UNKNOWN_ROOM,
	STORE_UNKNOWN_SENDER,
	STORE_RETRY           /* a database error: nothing stored, try again */
};

struct store_result {
	enum store_status status;
	unsigned long long seq;
	char ts[TIMEFMT_LEN];
};

/* Stores one message in its own transaction (or finds it stored). Fills
 * *result; STORE_RETRY means the transaction was rolled back. */
void store_one(struct db *db, const struct intake_msg *msg, struct store_result *result);

/* Stores msgs[0..n) (in that order within each room) in one transaction:
 * rooms locked in name order, one seq block per room, multi-row INSERTs.
 * Fills results[i] for every message. Returns DB_OK when committed,
 * DB_DUPLICATE when a message (or two in the batch) was already stored,
 * another db_result on a database error; on anything but DB_OK nothing is
 * stored and the caller falls back to store_one. */
int store_batch(struct db *db, struct intake_msg *const *msgs, int n, struct store_result *results);

#endif
