/* history_fold.h: history entries in the current state (docs/PROTOCOL.md
 * 4.1): a message with its edit and delete state, reply and thread counts,
 * and, folded in from their own tables, its reactions and mentions; an
 * event row with its kind, ref and what it carried. Used by the history op
 * (history_op.c). */
#ifndef HISTORY_FOLD_H
#define HISTORY_FOLD_H

#include <cJSON.h>

#include "db.h"
#include "timefmt.h"

/* The columns history_entry reads, for "SELECT STRAIGHT_JOIN "
 * HISTORY_ENTRY_COLUMNS " FROM messages m ..." HISTORY_ENTRY_JOINS. */
#define HISTORY_ENTRY_COLUMNS "m.seq, m.msg_id, u.username, " TIMEFMT_SQL("m.created_at") ", m.body," \
	" m.kind, m.ref_seq, m.reply_to, m.thread_root, " TIMEFMT_SQL("m.edited_at") "," \
	" " TIMEFMT_SQL("m.deleted_at") ", d.username, m.reply_count, " TIMEFMT_SQL("m.last_reply_at")
#define HISTORY_ENTRY_JOINS " JOIN users u ON u.id = m.sender_id LEFT JOIN users d ON d.id = m.deleted_by"

/* Builds the entry of one row of HISTORY_ENTRY_COLUMNS. Returns an object
 * the caller owns (cJSON_Delete), or NULL for a short row or out of memory. */
cJSON *history_entry(int ncols, char **cols);

/* Adds "reactions" and "mentions" to the message entries of entries (an
 * array of history_entry objects, in seq order) of room room_id. thread:
 * the root seq when entries is a page of that thread, else 0. Returns
 * DB_OK, or a db_result (entries may then be partly folded). */
int history_fold(struct db *db, unsigned long long room_id, unsigned long long thread, cJSON *entries);

#endif
