/* store.h: room messages from the wire to MariaDB, exactly once with a
 * gapless per-room seq, and the sender's receipt or error. The intake
 * (main.c) checks a message with store_check and logs it (committer.h);
 * the committer stores many at once with store_batch and falls back to
 * store_one, message by message, when the batch meets a duplicate. */
#ifndef HISTORY_STORE_H
#define HISTORY_STORE_H

#include <stddef.h>

#include "db.h"
#include "history.h"
#include "intake_log.h"
#include "timefmt.h"

/* A message that passed store_check; the strings point into json. */
struct checked_msg {
	void *json;          /* the parsed payload (cJSON); store_checked_free */
	const char *msg_id;
	const char *body;
	size_t body_len;
};

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

/* Checks the payload of a message published on
 * chat/v1/rooms/{room}/msg/{sender}: size, JSON, id, body, UTF-8. Returns 0
 * with *out filled (free with store_checked_free), or -1 after sending the
 * sender an error reply and counting it. */
int store_check(struct history_svc *svc, const char *room, const char *sender,
		const void *payload, size_t len, struct checked_msg *out);

/* Frees what store_check kept. */
void store_checked_free(struct checked_msg *msg);

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

/* Tells the sender what became of a message: a receipt with its seq, or
 * an error; counts it. Call with svc->lock held. */
void store_report(struct history_svc *svc, const struct intake_msg *msg, const struct store_result *result);

/* Sends the sender of a refused message an error reply on their inbox and
 * counts it. msg_id may be NULL. Call with svc->lock held. */
void store_send_error(struct history_svc *svc, const char *sender, const char *room,
		const char *msg_id, const char *code, const char *message);

#endif
