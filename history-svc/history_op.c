/* history_op.c: the history request; see history_op.h. A page is one
 * query on the primary key (a room) or on messages_thread (a thread), then
 * reactions and mentions folded in (history_fold.c). */
#include "history_op.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "history_fold.h"
#include "json_util.h"
#include "names.h"
#include "outbox.h"
#include "proto.h"
#include "replies.h"

#define HISTORY_DEFAULT_LIMIT 50
#define HISTORY_MAX_LIMIT 250

/* What the request asks for. */
struct page_req {
	const char *room;
	long limit, before, after, thread;
};

static int room_of_member(void *ud, int ncols, char **cols, unsigned long *lens)
{
	unsigned long long *out = ud;

	(void)lens;
	if(ncols >= 2 && cols[0] && cols[1]){
		out[0] = strtoull(cols[0], NULL, 10);
		out[1] = strtoull(cols[1], NULL, 10);
		out[2] = 1;
	}
	return 1;
}

static int row_prepend(void *ud, int ncols, char **cols, unsigned long *lens)
{
	cJSON *item = history_entry(ncols, cols);

	(void)lens;
	/* Rows come newest first; the reply lists oldest first. */
	if(item) cJSON_InsertItemInArray(ud, 0, item);
	return 0;
}

static int row_append(void *ud, int ncols, char **cols, unsigned long *lens)
{
	cJSON *item = history_entry(ncols, cols);

	(void)lens;
	if(item) cJSON_AddItemToArray(ud, item);
	return 0;
}

/* Reads and checks the request's fields. Returns NULL, or the message of a
 * bad_request error. */
static const char *read_request(const cJSON *req, struct page_req *p)
{
	p->room = json_get_str(req, "room", NAME_ROOM_MAX);
	if(!p->room || !name_room_valid(p->room)) return "\"room\" must be a valid room name";
	if(json_get_long(req, "limit", HISTORY_DEFAULT_LIMIT, 1, HISTORY_MAX_LIMIT, &p->limit)){
		return "\"limit\" must be a whole number from 1 to 250";
	}
	if(json_get_long(req, "before", 0, 1, 0x7fffffffffffffffL, &p->before)){
		return "\"before\" must be a sequence number of 1 or more";
	}
	if(json_get_long(req, "after", -1, 0, 0x7fffffffffffffffL, &p->after)){
		return "\"after\" must be a sequence number of 0 or more";
	}
	if(p->after >= 0 && p->before > 0) return "give \"before\" or \"after\", not both";
	if(json_get_long(req, "thread", 0, 1, 0x7fffffffffffffffL, &p->thread)){
		return "\"thread\" must be the seq of a thread's root message";
	}
	return NULL;
}

/* Adds "root" (the thread's root entry, folded) to reply. Returns DB_OK
 * with *found set, or a db_result. */
static int add_root(struct db *db, unsigned long long room_id, const struct page_req *p, cJSON *reply, bool *found)
{
	struct db_param params[2] = { DB_I64(room_id), DB_I64(p->thread) };
	cJSON *roots = cJSON_CreateArray();
	cJSON *root;
	int rc = DB_ERROR;

	*found = false;
	if(!roots) goto out;
	rc = db_exec(db, "SELECT STRAIGHT_JOIN " HISTORY_ENTRY_COLUMNS " FROM messages m" HISTORY_ENTRY_JOINS
			" WHERE m.room_id = ? AND m.seq = ? AND m.kind = 'message' AND m.thread_root IS NULL",
			params, 2, row_append, roots, NULL, NULL);
	if(rc != DB_OK || !roots->child) goto out;
	rc = history_fold(db, room_id, 0, roots);
	if(rc != DB_OK) goto out;
	root = cJSON_DetachItemFromArray(roots, 0);
	cJSON_AddItemToObject(reply, "root", root);
	*found = true;
out:
	cJSON_Delete(roots);
	return rc;
}

/* The page's rows into messages. Returns a db_result. */
static int read_page(struct db *db, unsigned long long room_id, const struct page_req *p, cJSON *messages)
{
	struct db_param params[4];

	params[0] = DB_I64(room_id);
	if(p->thread){
		params[1] = DB_I64(p->thread);
		params[2] = DB_I64(p->after >= 0 ? p->after : p->before);
		params[3] = DB_I64(p->limit);
		if(p->after >= 0){
			return db_exec(db, "SELECT STRAIGHT_JOIN " HISTORY_ENTRY_COLUMNS
					" FROM messages m FORCE INDEX (messages_thread)" HISTORY_ENTRY_JOINS
					" WHERE m.room_id = ? AND m.thread_root = ? AND m.seq > ? ORDER BY m.seq ASC LIMIT ?",
					params, 4, row_append, messages, NULL, NULL);
		}
		return db_exec(db, "SELECT STRAIGHT_JOIN " HISTORY_ENTRY_COLUMNS
				" FROM messages m FORCE INDEX (messages_thread)" HISTORY_ENTRY_JOINS
				" WHERE m.room_id = ? AND m.thread_root = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?",
				params, 4, row_prepend, messages, NULL, NULL);
	}
	params[1] = DB_I64(p->after >= 0 ? p->after : p->before);
	params[2] = DB_I64(p->limit);
	/* The join order and index are fixed: left alone, the optimizer starts
	 * from users and sorts the whole room (hundreds of ms on 300k rows). */
	if(p->after >= 0){
		/* Catch-up: the oldest `limit` after `after`, appended in order. */
		return db_exec(db, "SELECT STRAIGHT_JOIN " HISTORY_ENTRY_COLUMNS
				" FROM messages m FORCE INDEX (PRIMARY)" HISTORY_ENTRY_JOINS
				" WHERE m.room_id = ? AND m.seq > ? ORDER BY m.seq ASC LIMIT ?",
				params, 3, row_append, messages, NULL, NULL);
	}
	return db_exec(db, "SELECT STRAIGHT_JOIN " HISTORY_ENTRY_COLUMNS
			" FROM messages m FORCE INDEX (PRIMARY)" HISTORY_ENTRY_JOINS
			" WHERE m.room_id = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?",
			params, 3, row_prepend, messages, NULL, NULL);
}

/* Answers a history request; see history_op.h. */
int history_op(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	unsigned long long room_row[3] = { 0, 0, 0 };
	struct db_param params[2];
	struct page_req p;
	cJSON *reply = NULL;
	cJSON *messages;
	const char *bad;
	bool found;
	int rc = -1;

	if((bad = read_request(req, &p))){
		reply_error(svc, user, PROTO_OP_HISTORY, req_id, PROTO_ERR_BAD_REQUEST, bad);
		rc = 0;
		goto out;
	}
	params[0] = DB_STR(p.room);
	params[1] = DB_STR(user);
	if(db_exec(svc->db, "SELECT r.id, r.last_seq FROM rooms r"
				" JOIN room_members m ON m.room_id = r.id JOIN users u ON u.id = m.user_id"
				" WHERE r.name = ? AND u.username = ?",
				params, 2, room_of_member, room_row, NULL, NULL) != DB_OK) goto out;
	if(!room_row[2]){
		/* Same answer for "no such room" and "not a member": the existence of
		 * a private room is not revealed. */
		reply_error(svc, user, PROTO_OP_HISTORY, req_id, PROTO_ERR_NOT_MEMBER, "no such room, or you are not a member of it");
		rc = 0;
		goto out;
	}
	if(p.before == 0) p.before = (long)(room_row[1] + 1);
	reply = reply_new(PROTO_OP_HISTORY, req_id, 1);
	if(!reply) goto out;
	cJSON_AddStringToObject(reply, "room", p.room);
	cJSON_AddNumberToObject(reply, "last_seq", (double)room_row[1]);
	if(p.thread){
		if(add_root(svc->db, room_row[0], &p, reply, &found) != DB_OK) goto out;
		if(!found){
			reply_error(svc, user, PROTO_OP_HISTORY, req_id, PROTO_ERR_NOT_FOUND,
					"\"thread\" names no root message of this room");
			rc = 0;
			goto out;
		}
	}
	messages = cJSON_AddArrayToObject(reply, "messages");
	if(!messages) goto out;
	if(read_page(svc->db, room_row[0], &p, messages) != DB_OK) goto out;
	if(history_fold(svc->db, room_row[0], (unsigned long long)p.thread, messages) != DB_OK) goto out;
	outbox_send(svc, user, reply);
	rc = 0;
out:
	cJSON_Delete(reply);
	return rc;
}
