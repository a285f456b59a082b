/* history_fold.c: history entries in their current state; see
 * history_fold.h. Reactions and mentions come from one query each per
 * page, over the page's seq range, merged into the entries in seq order
 * (both the page and the rows are sorted by seq). */
#include "history_fold.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

#define REACTION_NAMES_MAX 5

enum entry_col {
	COL_SEQ, COL_ID, COL_SENDER, COL_TS, COL_BODY, COL_KIND, COL_REF, COL_REPLY_TO, COL_THREAD,
	COL_EDITED, COL_DELETED, COL_DELETED_BY, COL_REPLIES, COL_LAST_REPLY, COL_COUNT
};

static void add_seq(cJSON *item, const char *key, const char *value)
{
	if(value) cJSON_AddNumberToObject(item, key, (double)strtoull(value, NULL, 10));
}

/* The fields of a message entry beyond today's. */
static void message_fields(cJSON *item, char **cols)
{
	unsigned long long replies = cols[COL_REPLIES] ? strtoull(cols[COL_REPLIES], NULL, 10) : 0;

	if(cols[COL_EDITED]) cJSON_AddStringToObject(item, "edited", cols[COL_EDITED]);
	if(cols[COL_DELETED]){
		cJSON *deleted = cJSON_AddObjectToObject(item, "deleted");

		if(deleted){
			if(cols[COL_DELETED_BY]) cJSON_AddStringToObject(deleted, "by", cols[COL_DELETED_BY]);
			else cJSON_AddNullToObject(deleted, "by");
			cJSON_AddStringToObject(deleted, "ts", cols[COL_DELETED]);
		}
	}
	add_seq(item, "reply_to", cols[COL_REPLY_TO]);
	add_seq(item, "thread", cols[COL_THREAD]);
	if(replies){
		cJSON_AddNumberToObject(item, "replies", (double)replies);
		if(cols[COL_LAST_REPLY]) cJSON_AddStringToObject(item, "last_reply", cols[COL_LAST_REPLY]);
	}
}

/* The fields of an event entry: its body is "", what it carried has its
 * own key (an edit's "text", a reaction's "reaction", a topic's "topic"). */
static void event_fields(cJSON *item, char **cols)
{
	const char *kind = cols[COL_KIND];
	const char *carried = cols[COL_BODY];

	add_seq(item, "ref", cols[COL_REF]);
	if(!strcmp(kind, "edit")) cJSON_AddStringToObject(item, "text", carried);
	else if(!strcmp(kind, "react") || !strcmp(kind, "unreact")) cJSON_AddStringToObject(item, "reaction", carried);
	else if(!strcmp(kind, "topic")){
		if(carried[0]) cJSON_AddStringToObject(item, "topic", carried);
		else cJSON_AddNullToObject(item, "topic");
	}
}

/* Builds one entry; see history_fold.h. */
cJSON *history_entry(int ncols, char **cols)
{
	cJSON *item;
	bool is_message;

	if(ncols != COL_COUNT) return NULL;
	for(int i = COL_SEQ; i <= COL_KIND; i++) if(!cols[i]) return NULL;
	item = cJSON_CreateObject();
	if(!item) return NULL;
	is_message = !strcmp(cols[COL_KIND], "message");
	cJSON_AddNumberToObject(item, "seq", (double)strtoull(cols[COL_SEQ], NULL, 10));
	cJSON_AddStringToObject(item, "id", cols[COL_ID]);
	cJSON_AddStringToObject(item, "sender", cols[COL_SENDER]);
	cJSON_AddStringToObject(item, "ts", cols[COL_TS]);
	cJSON_AddStringToObject(item, "body", is_message ? cols[COL_BODY] : "");
	cJSON_AddStringToObject(item, "kind", cols[COL_KIND]);
	if(is_message) message_fields(item, cols);
	else event_fields(item, cols);
	return item;
}

/* Walks the page in step with rows sorted by seq. */
struct fold_cursor {
	cJSON *at;    /* the entry the last row went to, or the next to look at */
	unsigned long long at_seq;
};

/* The message entry with this seq, or NULL; moves the cursor forward. */
static cJSON *entry_for(struct fold_cursor *cur, unsigned long long seq)
{
	while(cur->at){
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(cur->at, "seq");
		const cJSON *kind = cJSON_GetObjectItemCaseSensitive(cur->at, "kind");

		cur->at_seq = cJSON_IsNumber(s) ? (unsigned long long)s->valuedouble : 0;
		if(cur->at_seq > seq) return NULL;
		if(cur->at_seq == seq){
			return cJSON_IsString(kind) && !strcmp(kind->valuestring, "message") ? cur->at : NULL;
		}
		cur->at = cur->at->next;
	}
	return NULL;
}

/* One (seq, reaction, count, names) row. */
static int reaction_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	cJSON *entry, *list, *group, *users;
	char names[REACTION_NAMES_MAX * (NAME_USER_MAX + 1) + 1];

	(void)lens;
	if(ncols != 4 || !cols[0] || !cols[1] || !cols[2]) return 0;
	entry = entry_for(ud, strtoull(cols[0], NULL, 10));
	if(!entry) return 0;
	list = cJSON_GetObjectItemCaseSensitive(entry, "reactions");
	if(!list && !(list = cJSON_AddArrayToObject(entry, "reactions"))) return 1;
	group = cJSON_CreateObject();
	if(!group) return 1;
	cJSON_AddItemToArray(list, group);
	cJSON_AddStringToObject(group, "reaction", cols[1]);
	cJSON_AddNumberToObject(group, "count", (double)strtoull(cols[2], NULL, 10));
	users = cJSON_AddArrayToObject(group, "users");
	if(!users || !cols[3]) return 0;
	/* User names hold no spaces: the names come joined by one. */
	snprintf(names, sizeof(names), "%s", cols[3]);
	for(char *save = NULL, *name = strtok_r(names, " ", &save); name; name = strtok_r(NULL, " ", &save)){
		cJSON_AddItemToArray(users, cJSON_CreateString(name));
	}
	return 0;
}

/* One (seq, user name) row. */
static int mention_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	cJSON *entry, *list;

	(void)lens;
	if(ncols != 2 || !cols[0] || !cols[1]) return 0;
	entry = entry_for(ud, strtoull(cols[0], NULL, 10));
	/* A deleted message keeps no trace of what it said, mentions included. */
	if(!entry || cJSON_GetObjectItemCaseSensitive(entry, "deleted")) return 0;
	list = cJSON_GetObjectItemCaseSensitive(entry, "mentions");
	if(!list && !(list = cJSON_AddArrayToObject(entry, "mentions"))) return 1;
	cJSON_AddItemToArray(list, cJSON_CreateString(cols[1]));
	return 0;
}

static unsigned long long entry_seq(const cJSON *entry)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(entry, "seq");

	return cJSON_IsNumber(s) ? (unsigned long long)s->valuedouble : 0;
}

/* Folds reactions and mentions in; see history_fold.h. */
int history_fold(struct db *db, unsigned long long room_id, unsigned long long thread, cJSON *entries)
{
	struct fold_cursor cur = { .at = entries ? entries->child : NULL };
	struct db_param params[4];
	const cJSON *last;
	int rc;

	if(!cur.at) return DB_OK;
	for(last = cur.at; last->next; last = last->next);
	params[0] = DB_I64(room_id);
	params[1] = DB_I64(entry_seq(cur.at));
	params[2] = DB_I64(entry_seq(last));
	params[3] = DB_I64(thread);
	/* Sorted by count, then reaction; the first 5 who reacted named. A
	 * thread's page spans the room's seqs: only its replies are folded.
	 * Join order and indexes are fixed: left alone, the optimizer may start
	 * from users and read every reaction of each (the FK index on user_id). */
	if(thread){
		rc = db_exec(db, "SELECT STRAIGHT_JOIN r.seq, r.reaction, COUNT(*),"
				" GROUP_CONCAT(u.username ORDER BY r.created_at, u.username SEPARATOR ' ' LIMIT 5)"
				" FROM messages m FORCE INDEX (messages_thread)"
				" JOIN reactions r FORCE INDEX (PRIMARY) ON r.room_id = m.room_id AND r.seq = m.seq"
				" JOIN users u ON u.id = r.user_id"
				" WHERE m.room_id = ? AND m.seq BETWEEN ? AND ? AND m.thread_root = ?"
				" GROUP BY r.seq, r.reaction ORDER BY r.seq, COUNT(*) DESC, r.reaction",
				params, 4, reaction_row, &cur, NULL, NULL);
	}else{
		rc = db_exec(db, "SELECT STRAIGHT_JOIN r.seq, r.reaction, COUNT(*),"
				" GROUP_CONCAT(u.username ORDER BY r.created_at, u.username SEPARATOR ' ' LIMIT 5)"
				" FROM reactions r FORCE INDEX (PRIMARY) JOIN users u ON u.id = r.user_id"
				" WHERE r.room_id = ? AND r.seq BETWEEN ? AND ?"
				" GROUP BY r.seq, r.reaction ORDER BY r.seq, COUNT(*) DESC, r.reaction",
				params, 3, reaction_row, &cur, NULL, NULL);
	}
	if(rc != DB_OK) return rc;
	cur.at = entries->child;
	return db_exec(db, "SELECT STRAIGHT_JOIN mn.seq, u.username FROM mentions mn FORCE INDEX (mentions_room_seq)"
			" JOIN users u ON u.id = mn.user_id"
			" WHERE mn.room_id = ? AND mn.seq BETWEEN ? AND ? ORDER BY mn.seq, u.username",
			params, 3, mention_row, &cur, NULL, NULL);
}
