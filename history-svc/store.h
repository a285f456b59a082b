/* store.h: checked room messages into MariaDB, exactly once with a
 * gapless per-room seq. The committer (committer.h) stores many at once
 * with store_batch and falls back to store_one, message by message, when
 * the batch meets a duplicate; the outbox (outbox.h) tells the sender. */
#ifndef HISTORY_STORE_H
#define HISTORY_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "intake_log.h"
#include "room_msg.h"
#include "store_meta.h"
#include "timefmt.h"

enum store_status {
	STORE_STORED,         /* a new row with a new seq */
	STORE_DUPLICATE,      /* already stored: seq and ts are the first copy's */
	STORE_UNKNOWN_ROOM,
	STORE_UNKNOWN_SENDER,
	STORE_REFUSED,        /* an event (or a reply) the archive refuses: code, message */
	STORE_RETRY           /* a database error: nothing stored, try again */
};

struct store_result {
	enum store_status status;
	unsigned long long seq;
	char ts[TIMEFMT_LEN];
	enum room_msg_kind kind;  /* what was stored (the receipt says so) */
	unsigned long long ref;   /* a stored event: its target's seq */
	const char *code;         /* STORE_REFUSED: a PROTO_ERR_* code */
	char message[128];        /* STORE_REFUSED: why, for the sender */
	char *mentioned;          /* a stored message: the members it mentions,
	                           * each NUL-terminated, "" last; NULL if none.
	                           * Freed by store_result_reset */
};

/* Frees what result holds and empties it. */
void store_result_reset(struct store_result *result);

/* What a batch knows of an event's target that is not in the table yet
 * (one of its rows still waiting for the multi-row INSERT). */
struct store_pending_target {
	bool is_message;   /* a plain message (not an event row) */
};

/* The checks and the change of an event (edit, delete, react, unreact;
 * meta->kind is not ROOM_MSG_MESSAGE) inside the caller's transaction with
 * the room's row locked, without the event's own row: the caller inserts
 * it (store_batch.c with its other rows) when result->status stays
 * STORE_STORED. pending: the target when it waits in the caller's batch
 * (react and unreact only; an edit's or delete's target must be in the
 * table), else NULL. Sets result->kind and ->ref, and ->status to
 * STORE_DUPLICATE (a second delete, with the first's seq and ts) or
 * STORE_REFUSED (nothing changed), or leaves it. Returns DB_OK, or a
 * db_result on a database error. */
int store_event_change(struct db *db, unsigned long long room_id, unsigned long long sender_id,
		const struct intake_msg *msg, const struct store_meta *meta, const char *ts_sql,
		const struct store_pending_target *pending, struct store_result *result);

/* The body of an event's own row: an edit's text, a reaction's reaction,
 * else "" (*len set). Points into msg or meta. */
const char *store_event_row_body(const struct intake_msg *msg, const struct store_meta *meta, size_t *len);

/* Stores one event, or a message with a reply, thread or mentions (msg's
 * meta; store_meta.h), inside the caller's transaction with the room's row
 * locked: checks its target (docs/PROTOCOL.md 3.3), inserts its row with
 * seq *last_seq + 1 and changes the target in the same transaction.
 * Fills *result: STORE_STORED (and *last_seq moved on), STORE_DUPLICATE (a
 * second delete: the first delete's seq and ts, nothing changed), or
 * STORE_REFUSED (nothing changed). Returns DB_OK, or a db_result on a
 * database error (the caller rolls back). */
int store_event(struct db *db, unsigned long long room_id, unsigned long long sender_id,
		const struct intake_msg *msg, const char *ts_iso, const char *ts_sql,
		unsigned long long *last_seq, struct store_result *result);

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
