/* search.c: the search op; see search.h. How a query is matched (PROTOCOL
 * 4.6): the full-text index finds the messages holding every word of 3 or
 * more characters of the query (each word quoted, so none of the boolean
 * mode's operators + - * " @ ( ) ~ < > is ever read as one), and a LIKE
 * keeps those holding the query text itself, case-insensitively. The
 * query's text only ever travels as a bound parameter. */
#include "search.h"
#include "search_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "names.h"
#include "outbox.h"
#include "proto.h"
#include "replies.h"
#include "room_access.h"
#include "room_msg.h"
#include "timefmt.h"

#define SEARCH_DEFAULT_LIMIT 20
#define SEARCH_MAX_LIMIT 100
/* The cursor: created_at as 20 digits (yyyymmddhhmmssffffff), room id, seq. */
#define CURSOR_MAX 64
#define CURSOR_FIRST "9999-12-31 23:59:59.999999"

/* Reads the cursor "yyyymmddhhmmssffffff-ROOM-SEQ" into an SQL datetime
 * literal, a room id and a seq. Returns 0, or -1 when it is not one. */
static int cursor_read(const char *cursor, char ts_sql[32], unsigned long long *room_id, unsigned long long *seq)
{
	const char *p = cursor;
	char *end;

	for(int i = 0; i < 20; i++){
		if(p[i] < '0' || p[i] > '9') return -1;
	}
	if(p[20] != '-' || p[21] < '0' || p[21] > '9') return -1;
	snprintf(ts_sql, 32, "%.4s-%.2s-%.2s %.2s:%.2s:%.2s.%.6s", p, p + 4, p + 6, p + 8, p + 10, p + 12, p + 14);
	*room_id = strtoull(p + 21, &end, 10);
	if(*end != '-' || end[1] < '0' || end[1] > '9') return -1;
	*seq = strtoull(end + 1, &end, 10);
	return *end == '\0' ? 0 : -1;
}

struct search_page {
	cJSON *results;
	const char *query;
	long limit;
	long count;
	char next[CURSOR_MAX];
	int more;
};

static int result_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct search_page *page = ud;
	char snippet[SEARCH_SNIPPET_MAX];
	cJSON *item;

	if(ncols != 7 || !cols[0] || !cols[1] || !cols[2] || !cols[3] || !cols[4] || !cols[5] || !cols[6]) return 0;
	if(page->count == page->limit){
		page->more = 1;
		return 1;
	}
	item = cJSON_CreateObject();
	if(!item) return 1;
	search_snippet(cols[4], lens[4], page->query, snippet, sizeof(snippet));
	cJSON_AddStringToObject(item, "room", cols[0]);
	cJSON_AddNumberToObject(item, "seq", (double)strtoull(cols[1], NULL, 10));
	cJSON_AddStringToObject(item, "sender", cols[2]);
	cJSON_AddStringToObject(item, "ts", cols[3]);
	cJSON_AddStringToObject(item, "snippet", snippet);
	cJSON_AddItemToArray(page->results, item);
	page->count++;
	snprintf(page->next, sizeof(page->next), "%s-%s-%s", cols[5], cols[6], cols[1]);
	return 0;
}

#define SEARCH_SELECT "SELECT r.name, m.seq, u.username, " TIMEFMT_SQL("m.created_at") ", m.body," \
	" DATE_FORMAT(m.created_at, '%Y%m%d%H%i%s%f'), m.room_id" \
	" FROM messages m JOIN room_members rm ON rm.room_id = m.room_id AND rm.user_id = ?" \
	" JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.sender_id" \
	" WHERE MATCH (m.body) AGAINST (? IN BOOLEAN MODE) AND m.body LIKE ? ESCAPE '!'" \
	" AND m.kind = 'message' AND m.deleted_at IS NULL" \
	" AND (m.created_at, m.room_id, m.seq) < (?, ?, ?)"
#define SEARCH_ORDER " ORDER BY m.created_at DESC, m.room_id DESC, m.seq DESC LIMIT ?"

static const char search_all_sql[] = SEARCH_SELECT SEARCH_ORDER;
static const char search_room_sql[] = SEARCH_SELECT " AND m.room_id = ?" SEARCH_ORDER;

static int user_id_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	(void)lens;
	if(ncols >= 1 && cols[0]) *(unsigned long long *)ud = strtoull(cols[0], NULL, 10);
	return 1;
}

/* Reads and checks "query"; fills against and like. Returns 0, or 1 after
 * replying the error. */
static int read_query(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req,
		const char **query, char *against, size_t against_len, char *like, size_t like_len)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(req, "query");
	struct room_msg_refusal why;
	size_t len;

	if(!cJSON_IsString(item) || !item->valuestring || !item->valuestring[0]){
		reply_error(svc, user, PROTO_OP_SEARCH, req_id, PROTO_ERR_BAD_REQUEST, "\"query\" must be a string of 1-200 bytes");
		return 1;
	}
	*query = item->valuestring;
	len = strlen(*query);
	if(len > PROTO_SEARCH_QUERY_MAX){
		reply_error(svc, user, PROTO_OP_SEARCH, req_id, PROTO_ERR_TOO_LARGE, "\"query\" is longer than 200 bytes");
		return 1;
	}
	if(room_msg_body_check(PROTO_SEARCH_QUERY_MAX, *query, len, &why)){
		reply_error(svc, user, PROTO_OP_SEARCH, req_id, PROTO_ERR_BAD_REQUEST, why.message);
		return 1;
	}
	if(search_against_text(*query, len, against, against_len) <= 0){
		reply_error(svc, user, PROTO_OP_SEARCH, req_id, PROTO_ERR_BAD_REQUEST,
				"\"query\" needs a word of 3 or more letters or digits");
		return 1;
	}
	if(search_like_pattern(*query, len, like, like_len)){
		reply_error(svc, user, PROTO_OP_SEARCH, req_id, PROTO_ERR_TOO_LARGE, "\"query\" is too long");
		return 1;
	}
	return 0;
}

int search_run(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	char against[PROTO_SEARCH_QUERY_MAX * 2 + 8], like[PROTO_SEARCH_QUERY_MAX * 2 + 8];
	char cursor_ts[32] = CURSOR_FIRST;
	unsigned long long cursor_room = 0, cursor_seq = 0, user_id = 0;
	struct search_page page = { 0 };
	struct room_access access;
	struct db_param params[8];
	const cJSON *room_item = cJSON_GetObjectItemCaseSensitive(req, "room");
	const cJSON *before = cJSON_GetObjectItemCaseSensitive(req, "before");
	const char *query = NULL, *room = NULL;
	cJSON *reply = NULL;
	int nparams = 0;
	int rc = -1;

	if(read_query(svc, user, req_id, req, &query, against, sizeof(against), like, sizeof(like))){
		rc = 0;
		goto out;
	}
	if(json_get_long(req, "limit", SEARCH_DEFAULT_LIMIT, 1, SEARCH_MAX_LIMIT, &page.limit)){
		reply_error(svc, user, PROTO_OP_SEARCH, req_id, PROTO_ERR_BAD_REQUEST, "\"limit\" must be a whole number from 1 to 100");
		rc = 0;
		goto out;
	}
	if(before && !cJSON_IsNull(before)){
		if(!cJSON_IsString(before) || strlen(before->valuestring) >= CURSOR_MAX
				|| cursor_read(before->valuestring, cursor_ts, &cursor_room, &cursor_seq)){
			reply_error(svc, user, PROTO_OP_SEARCH, req_id, PROTO_ERR_BAD_REQUEST, "\"before\" must be the \"next\" of a previous reply");
			rc = 0;
			goto out;
		}
	}else{
		cursor_room = 0xffffffffffffffffULL >> 1;
		cursor_seq = cursor_room;
	}
	if(room_item){
		int refused = room_access_member(svc, user, PROTO_OP_SEARCH, req_id, req, &room, &access);

		if(refused){
			rc = refused > 0 ? 0 : -1;
			goto out;
		}
		user_id = access.user_id;
	}else{
		params[0] = DB_STR(user);
		if(db_exec(svc->db, "SELECT id FROM users WHERE username = ?", params, 1, user_id_row, &user_id, NULL, NULL) != DB_OK) goto out;
	}
	reply = reply_new(PROTO_OP_SEARCH, req_id, 1);
	if(!reply) goto out;
	page.results = cJSON_AddArrayToObject(reply, "results");
	if(!page.results) goto out;
	page.query = query;
	params[nparams++] = DB_I64(user_id);
	params[nparams++] = DB_STR(against);
	params[nparams++] = DB_STR(like);
	params[nparams++] = DB_STR(cursor_ts);
	params[nparams++] = DB_I64(cursor_room);
	params[nparams++] = DB_I64(cursor_seq);
	if(room) params[nparams++] = DB_I64(access.room_id);
	params[nparams++] = DB_I64(page.limit + 1);
	if(db_exec(svc->db, room ? search_room_sql : search_all_sql, params, nparams, result_row, &page, NULL, NULL) != DB_OK) goto out;
	if(page.more) cJSON_AddStringToObject(reply, "next", page.next);
	else cJSON_AddNullToObject(reply, "next");
	outbox_send(svc, user, reply);
	rc = 0;
out:
	cJSON_Delete(reply);
	return rc;
}
