/* search.c: the search op; see search.h. How a query is matched (PROTOCOL
 * 4.9): a message matches when it holds every word of 3 or more characters
 * of the query as a whole word and the query text itself (LIKE, case-
 * insensitive). Two ways to find them, for the same answer:
 * - the recent scan reads the newest messages (of the room, by its primary
 *   key; of all rooms, by messages_created) and checks each with LIKE and a
 *   whole-word REGEXP, for at most RECENT_SCAN_ROWS rows: enough when the
 *   words are common, which is where the index is slow (it must fetch and
 *   sort every message holding them);
 * - otherwise the full-text index finds the messages holding every word
 *   (each quoted, so none of the boolean mode's operators + - * " @ ( ) ~
 *   < > is ever read as one) and LIKE keeps those holding the text.
 * The query's text only ever travels as bound parameters. */
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

/* The columns result_row reads. */
#define SEARCH_COLUMNS "SELECT STRAIGHT_JOIN r.name, m.seq, u.username, " TIMEFMT_SQL("m.created_at") ", m.body," \
	" DATE_FORMAT(m.created_at, '%Y%m%d%H%i%s%f'), m.room_id"
#define SEARCH_ROWS " AND m.kind = 'message' AND m.deleted_at IS NULL AND m.body LIKE ? ESCAPE '!'"
/* Most rows the recent scan reads before giving way to the index: a word
 * in more than about 1 message in 100 fills a page within it. */
#define RECENT_SCAN_ROWS 2000
#define RECENT_LIMIT " LIMIT ? ROWS EXAMINED 2000"

/* The recent scan: the newest messages first, each checked with LIKE and
 * the whole-word REGEXP, stopped after RECENT_SCAN_ROWS rows. Params:
 * room id, seq / user id, cursor ts, cursor; like, regexp, limit. */
static const char recent_room_sql[] = SEARCH_COLUMNS
	" FROM messages m FORCE INDEX (PRIMARY) JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.sender_id"
	" WHERE m.room_id = ? AND m.seq < ?" SEARCH_ROWS " AND m.body REGEXP ?"
	" ORDER BY m.seq DESC" RECENT_LIMIT;
static const char recent_all_sql[] = SEARCH_COLUMNS
	" FROM messages m FORCE INDEX (messages_created)"
	" JOIN room_members rm ON rm.room_id = m.room_id AND rm.user_id = ?"
	" JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.sender_id"
	" WHERE m.created_at <= ? AND (m.created_at, m.room_id, m.seq) < (?, ?, ?)" SEARCH_ROWS " AND m.body REGEXP ?"
	" ORDER BY m.created_at DESC, m.room_id DESC, m.seq DESC" RECENT_LIMIT;
/* Before the index: how many messages would it fetch? Estimated from the
 * share of the newest SAMPLE_ROWS messages of the archive that match,
 * times the table's row count. The index path fetches and sorts every
 * message holding the words, and InnoDB's full-text lookup cannot be
 * interrupted: on 20,000,000 rows a word in 1 message in 10 takes 20 s
 * and more. Above SEARCH_INDEX_MAX_HITS the query is refused. */
#define SAMPLE_ROWS 1000
#define SEARCH_INDEX_MAX_HITS 50000
static const char sample_sql[] = "SELECT COUNT(*) FROM (SELECT m.body FROM messages m FORCE INDEX (messages_created)"
	" ORDER BY m.created_at DESC LIMIT 1000) s WHERE s.body LIKE ? ESCAPE '!' AND s.body REGEXP ?";
static const char table_rows_sql[] = "SELECT TABLE_ROWS FROM information_schema.TABLES"
	" WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'messages'";

/* The index: every message holding the words, then sorted; stopped after
 * SEARCH_INDEX_MAX_S seconds (a word in a large share of many messages),
 * so that one search cannot hold up every other request. Params:
 * against, room id, seq / user id, against, cursor; like, limit. */
#define SEARCH_INDEX_MAX_S "2"
#define SEARCH_INDEXED "SET STATEMENT max_statement_time = " SEARCH_INDEX_MAX_S " FOR " SEARCH_COLUMNS
static const char indexed_room_sql[] = SEARCH_INDEXED
	" FROM messages m JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.sender_id"
	" WHERE MATCH (m.body) AGAINST (? IN BOOLEAN MODE) AND m.room_id = ? AND m.seq < ?" SEARCH_ROWS
	" ORDER BY m.seq DESC LIMIT ?";
static const char indexed_all_sql[] = SEARCH_INDEXED
	" FROM messages m JOIN room_members rm ON rm.room_id = m.room_id AND rm.user_id = ?"
	" JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.sender_id"
	" WHERE MATCH (m.body) AGAINST (? IN BOOLEAN MODE) AND (m.created_at, m.room_id, m.seq) < (?, ?, ?)" SEARCH_ROWS
	" ORDER BY m.created_at DESC, m.room_id DESC, m.seq DESC LIMIT ?";

static int user_id_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	(void)lens;
	if(ncols >= 1 && cols[0]) *(unsigned long long *)ud = strtoull(cols[0], NULL, 10);
	return 1;
}

/* The query in its three forms, and where the page starts. */
struct search_terms {
	char against[PROTO_SEARCH_QUERY_MAX * 2 + 8];
	char like[PROTO_SEARCH_QUERY_MAX * 2 + 8];
	char regexp[PROTO_SEARCH_QUERY_MAX * 4 + 32];
	char cursor_ts[32];
	unsigned long long cursor_room, cursor_seq;
	unsigned long long user_id, room_id; /* room_id 0: all the user's rooms */
};

/* Reads and checks "query"; fills t's against, like and regexp. Returns
 * 0, or 1 after replying the error. */
static int read_query(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req,
		const char **query, struct search_terms *t)
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
	if(search_against_text(*query, len, t->against, sizeof(t->against)) <= 0){
		reply_error(svc, user, PROTO_OP_SEARCH, req_id, PROTO_ERR_BAD_REQUEST,
				"\"query\" needs a word of 3 or more letters or digits");
		return 1;
	}
	if(search_like_pattern(*query, len, t->like, sizeof(t->like))
			|| search_regexp_pattern(*query, len, t->regexp, sizeof(t->regexp)) < 0){
		reply_error(svc, user, PROTO_OP_SEARCH, req_id, PROTO_ERR_TOO_LARGE, "\"query\" is too long");
		return 1;
	}
	return 0;
}

static int one_count(void *ud, int ncols, char **cols, unsigned long *lens)
{
	(void)lens;
	if(ncols >= 1 && cols[0]) *(unsigned long long *)ud = strtoull(cols[0], NULL, 10);
	return 1;
}

static void page_reset(struct search_page *page)
{
	cJSON *item;

	while((item = cJSON_DetachItemFromArray(page->results, 0))) cJSON_Delete(item);
	page->count = 0;
	page->more = 0;
	page->next[0] = '\0';
}

/* Fills page: first the recent scan, which answers alone when it fills the
 * page (a common word) or read every row left (a small room); else the
 * full-text index. Returns a db_result (DB_TIMEOUT: the index would fetch
 * too many messages, or took too long). */
static int search_fill(struct db *db, const struct search_terms *t, struct search_page *page)
{
	struct db_param params[8];
	unsigned long long sample_hits = 0, table_rows = 0;
	int n = 0;
	int rc;

	if(t->room_id){
		params[n++] = DB_I64(t->room_id);
		params[n++] = DB_I64(t->cursor_seq);
	}else{
		params[n++] = DB_I64(t->user_id);
		params[n++] = DB_STR(t->cursor_ts);
		params[n++] = DB_STR(t->cursor_ts);
		params[n++] = DB_I64(t->cursor_room);
		params[n++] = DB_I64(t->cursor_seq);
	}
	params[n++] = DB_STR(t->like);
	params[n++] = DB_STR(t->regexp);
	params[n++] = DB_I64(page->limit + 1);
	rc = db_exec(db, t->room_id ? recent_room_sql : recent_all_sql, params, n, result_row, page, NULL, NULL);
	if(rc != DB_OK) return rc;
	/* In one room the scan read every row below the cursor when there were
	 * fewer than its budget (each hit reads a room and a user row too). */
	if(page->more || (t->room_id && t->cursor_seq + 2 * (unsigned long long)(page->limit + 1) <= RECENT_SCAN_ROWS)) return DB_OK;
	page_reset(page);
	params[0] = DB_STR(t->like);
	params[1] = DB_STR(t->regexp);
	rc = db_exec(db, sample_sql, params, 2, one_count, &sample_hits, NULL, NULL);
	if(rc == DB_OK) rc = db_exec(db, table_rows_sql, NULL, 0, one_count, &table_rows, NULL, NULL);
	if(rc != DB_OK) return rc;
	if(sample_hits * table_rows / SAMPLE_ROWS > SEARCH_INDEX_MAX_HITS) return DB_TIMEOUT;
	n = 0;
	if(t->room_id){
		params[n++] = DB_STR(t->against);
		params[n++] = DB_I64(t->room_id);
		params[n++] = DB_I64(t->cursor_seq);
	}else{
		params[n++] = DB_I64(t->user_id);
		params[n++] = DB_STR(t->against);
		params[n++] = DB_STR(t->cursor_ts);
		params[n++] = DB_I64(t->cursor_room);
		params[n++] = DB_I64(t->cursor_seq);
	}
	params[n++] = DB_STR(t->like);
	params[n++] = DB_I64(page->limit + 1);
	return db_exec(db, t->room_id ? indexed_room_sql : indexed_all_sql, params, n, result_row, page, NULL, NULL);
}

int search_run(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	struct search_terms terms = { .cursor_ts = CURSOR_FIRST };
	struct search_page page = { 0 };
	struct room_access access;
	struct db_param params[1];
	const cJSON *room_item = cJSON_GetObjectItemCaseSensitive(req, "room");
	const cJSON *before = cJSON_GetObjectItemCaseSensitive(req, "before");
	const char *query = NULL, *room = NULL;
	cJSON *reply = NULL;
	int rc = -1;

	if(read_query(svc, user, req_id, req, &query, &terms)){
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
				|| cursor_read(before->valuestring, terms.cursor_ts, &terms.cursor_room, &terms.cursor_seq)){
			reply_error(svc, user, PROTO_OP_SEARCH, req_id, PROTO_ERR_BAD_REQUEST, "\"before\" must be the \"next\" of a previous reply");
			rc = 0;
			goto out;
		}
	}else{
		terms.cursor_room = 0xffffffffffffffffULL >> 1;
		terms.cursor_seq = terms.cursor_room;
	}
	if(room_item){
		int refused = room_access_member(svc, user, PROTO_OP_SEARCH, req_id, req, &room, &access);

		if(refused){
			rc = refused > 0 ? 0 : -1;
			goto out;
		}
		terms.user_id = access.user_id;
		terms.room_id = access.room_id;
		if(terms.cursor_seq > access.last_seq + 1) terms.cursor_seq = access.last_seq + 1;
	}else{
		params[0] = DB_STR(user);
		if(db_exec(svc->db, "SELECT id FROM users WHERE username = ?", params, 1, user_id_row, &terms.user_id, NULL, NULL) != DB_OK) goto out;
	}
	reply = reply_new(PROTO_OP_SEARCH, req_id, 1);
	if(!reply) goto out;
	page.results = cJSON_AddArrayToObject(reply, "results");
	if(!page.results) goto out;
	page.query = query;
	rc = search_fill(svc->db, &terms, &page);
	if(rc == DB_TIMEOUT){
		reply_error(svc, user, PROTO_OP_SEARCH, req_id, PROTO_ERR_BAD_REQUEST,
				"too many messages hold these words to sort them; add a word, or name a room whose recent messages hold them");
		rc = 0;
		goto out;
	}
	if(rc != DB_OK){
		rc = -1;
		goto out;
	}
	if(page.more) cJSON_AddStringToObject(reply, "next", page.next);
	else cJSON_AddNullToObject(reply, "next");
	outbox_send(svc, user, reply);
	rc = 0;
out:
	cJSON_Delete(reply);
	return rc;
}
