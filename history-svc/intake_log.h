/* intake_log.h: history-svc's append-only log of room messages taken from
 * the broker but not yet committed to MariaDB.
 *
 * Why: Paho sends the PUBACK for a message as soon as our callback returns
 * 1 ("handled"). To commit many messages per MariaDB transaction (group
 * commit) the callback must return before the commit, so the message first
 * goes here: one write(2) of one record, which survives a SIGKILL of the
 * process. A checkpoint file says how far the log is committed; at start the
 * records after it are replayed (a record committed just before a crash
 * and replayed again is found as a duplicate by its id, never stored
 * twice). The log is split into generations (intake.GEN.log) so that
 * committed files can be deleted while traffic flows.
 *
 * Not thread-safe: the caller serialises calls. */
#ifndef HISTORY_INTAKE_LOG_H
#define HISTORY_INTAKE_LOG_H

#include <stddef.h>

/* One logged message. All strings live in the same allocation as the
 * struct: free the whole record with free(). */
struct intake_msg {
	struct intake_msg *next;  /* for the caller's queue */
	unsigned long long gen;   /* log generation holding the record */
	long long end;            /* offset just past the record in that file */
	const char *room;
	const char *sender;
	const char *msg_id;
	const char *body;         /* NUL-terminated too */
	size_t body_len;
	const char *meta;         /* "" for a plain message; else an event's
	                           * fields (store_meta.h); NUL-terminated */
	size_t meta_len;
	long long taken_ms;       /* monotonic; set when queued (metrics: oldest unstored age) */
};

struct intake_log;

/* Opens (creating) the log in dir, starting a new generation when the
 * current file passes rotate_bytes. Returns the log, or NULL with a
 * message in err. Close with intake_log_close. */
struct intake_log *intake_log_open(const char *dir, long rotate_bytes, char *err, size_t errlen);

/* Reads every record after the checkpoint, oldest first, and hands each to
 * fn (which owns it from then on). A torn record at the end of a file
 * (a crash in the middle of a write) is cut off. Call once, before the
 * first append. Returns the number of records replayed, or -1 with a
 * message in err. */
long intake_log_replay(struct intake_log *log, void (*fn)(void *ud, struct intake_msg *msg), void *ud,
		char *err, size_t errlen);

/* Appends one message and returns it as a record the caller owns (free()),
 * or NULL with a message in err (nothing usable was written). */
struct intake_msg *intake_log_append(struct intake_log *log, const char *room, const char *sender,
		const char *msg_id, const char *body, size_t body_len, char *err, size_t errlen);

/* As intake_log_append, with meta (meta_len bytes; 0 for a plain
 * message, which is then logged exactly as intake_log_append does). */
struct intake_msg *intake_log_append_meta(struct intake_log *log, const char *room, const char *sender,
		const char *msg_id, const char *body, size_t body_len, const char *meta, size_t meta_len,
		char *err, size_t errlen);

/* Records that every record up to and including msg is committed, and
 * deletes the generations before msg's. Returns 0, or -1 (logged; the next
 * checkpoint tries again, and a replay only finds duplicates). */
int intake_log_checkpoint(struct intake_log *log, const struct intake_msg *msg);

/* Closes the log; NULL allowed. Uncommitted records stay for the next start. */
void intake_log_close(struct intake_log *log);

#endif
