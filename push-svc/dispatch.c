/* dispatch.c: due pushes to the sender and answers back; see dispatch.h. */
#include "dispatch.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <openssl/evp.h>
#include <uthash.h>

#include "clock.h"
#include "json_util.h"
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "online.h"
#include "sender.h"
#include "webpush.h"

/* Due rows looked at per poll, and how often dispatch polls. */
#define POLL_ROWS 200
#define POLL_INTERVAL_MS 200
/* Retry backoff without Retry-After: 1 s doubling, at most 10 minutes. */
#define BACKOFF_MAX_MS 600000

struct key {
	unsigned long long sub_id, room_id;
};

struct busy {
	struct key key;
	UT_hash_handle hh;
};

struct dispatch {
	struct push_svc *svc;
	struct busy *busy;  /* (subscription, room) pairs with a request in flight */
};

struct dispatch *dispatch_new(struct push_svc *svc)
{
	struct dispatch *d = calloc(1, sizeof(*d));

	if(d) d->svc = svc;
	return d;
}

static struct busy *busy_find(struct dispatch *d, unsigned long long sub_id, unsigned long long room_id)
{
	struct key k = { sub_id, room_id };
	struct busy *b = NULL;

	HASH_FIND(hh, d->busy, &k, sizeof(k), b);
	return b;
}

static void busy_clear(struct dispatch *d, unsigned long long sub_id, unsigned long long room_id)
{
	struct busy *b = busy_find(d, sub_id, room_id);

	if(b){
		HASH_DEL(d->busy, b);
		free(b);
	}
}

/* The RFC 8030 Topic of a room's pushes: 32 base64url characters of
 * SHA-256(room), so a push service replaces an undelivered push of the
 * same room with the newer one. */
static void room_topic(const char *room, char *out, size_t outlen)
{
	unsigned char digest[32];
	char b64[48];
	unsigned int len = 0;

	EVP_Digest(room, strlen(room), digest, &len, EVP_sha256(), NULL);
	webpush_b64url_encode(digest, 24, b64, sizeof(b64));
	snprintf(out, outlen, "%.32s", b64);
}

/* The longest prefix of body of at most max bytes that ends on a UTF-8
 * character boundary. */
static size_t preview_len(const char *body, size_t max)
{
	size_t len = strlen(body);

	if(len <= max) return len;
	len = max;
	while(len > 0 && ((unsigned char)body[len] & 0xc0) == 0x80) len--;
	return len;
}

static void drop_owed(struct push_svc *svc, unsigned long long sub_id, unsigned long long room_id)
{
	struct db *db = push_db_get(svc);
	struct db_param p[2] = { DB_I64(sub_id), DB_I64(room_id) };

	if(db && db_exec(db, "UPDATE push_state SET pending_count = 0, attempts = 0 WHERE sub_id = ? AND room_id = ?",
			p, 2, NULL, NULL, NULL, NULL) != DB_OK){
		push_db_failed(svc);
	}
}

/* Columns of due_sql. */
enum { C_SUB, C_ROOM_ID, C_COUNT, C_FROM, C_TO, C_URGENT, C_ENDPOINT, C_P256DH, C_AUTH, C_PREVIEW,
	C_USER, C_ROOM, C_SENDER, C_BODY, C_NCOLS };

static const char due_sql[] =
	"SELECT ps.sub_id, ps.room_id, ps.pending_count, ps.pending_from_seq, ps.pending_to_seq, ps.urgent,"
	" s.endpoint, s.p256dh, s.auth, s.preview, u.username, r.name, su.username,"
	" IF(m.deleted_at IS NULL, m.body, NULL)"
	" FROM push_state ps"
	" JOIN push_subscriptions s ON s.id = ps.sub_id"
	" JOIN users u ON u.id = s.user_id"
	" JOIN rooms r ON r.id = ps.room_id"
	" LEFT JOIN messages m ON m.room_id = ps.room_id AND m.seq = ps.pending_to_seq"
	" LEFT JOIN users su ON su.id = m.sender_id"
	" WHERE ps.pending_count > 0 AND ps.due_ms <= ?"
	" ORDER BY ps.due_ms LIMIT ?";

struct due_rows {
	struct dispatch *d;
	struct key drop[POLL_ROWS];  /* rows to drop after the query: users now online, */
	bool drop_online[POLL_ROWS]; /* or (false) a push that cannot be built */
	int n_drop;
	int rows;
};

static void drop_later(struct due_rows *due, unsigned long long sub_id, unsigned long long room_id, bool online)
{
	if(due->n_drop >= POLL_ROWS) return;
	due->drop[due->n_drop] = (struct key){ sub_id, room_id };
	due->drop_online[due->n_drop++] = online;
}

/* Builds the push for one due row and hands it to the sender. */
static int due_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct due_rows *due = ud;
	struct dispatch *d = due->d;
	struct push_svc *svc = d->svc;
	struct sender_request *req = NULL;
	struct busy *b = NULL;
	cJSON *payload = NULL;
	char *text = NULL;
	char auth[1100];
	unsigned long long sub_id, room_id;

	(void)lens;
	if(ncols != C_NCOLS) return 1;
	due->rows++;
	sub_id = strtoull(cols[C_SUB], NULL, 10);
	room_id = strtoull(cols[C_ROOM_ID], NULL, 10);
	if(busy_find(d, sub_id, room_id) || (long)HASH_COUNT(d->busy) >= svc->cfg.max_in_flight) goto out;
	if(online_is(svc->online, cols[C_USER])){
		drop_later(due, sub_id, room_id, true);
		goto out;
	}
	payload = cJSON_CreateObject();
	req = calloc(1, sizeof(*req));
	b = calloc(1, sizeof(*b));
	if(!payload || !req || !b) goto out;
	cJSON_AddStringToObject(payload, "type", "push");
	cJSON_AddStringToObject(payload, "room", cols[C_ROOM]);
	cJSON_AddNumberToObject(payload, "count", (double)strtoll(cols[C_COUNT], NULL, 10));
	cJSON_AddNumberToObject(payload, "seq", (double)strtoll(cols[C_TO], NULL, 10));
	if(cols[C_SENDER]) cJSON_AddStringToObject(payload, "sender", cols[C_SENDER]);
	if(cols[C_PREVIEW][0] == '1' && cols[C_BODY]){
		size_t n = preview_len(cols[C_BODY], (size_t)svc->cfg.preview_bytes);
		char *preview = strndup(cols[C_BODY], n);
		if(!preview) goto out;
		cJSON_AddStringToObject(payload, "body", preview);
		free(preview);
	}
	text = json_print(payload);
	if(!text || webpush_encrypt(cols[C_P256DH], cols[C_AUTH], text, strlen(text), &req->body, &req->body_len)){
		log_warn("cannot encrypt a push for subscription %llu; dropped", sub_id);
		metric_inc(svc->m.failed);
		drop_later(due, sub_id, room_id, false);
		goto out;
	}
	if(webpush_vapid_header(svc->vapid, cols[C_ENDPOINT], clock_wall_ms() / 1000, svc->cfg.vapid_lifetime_s,
			auth, sizeof(auth))){
		log_warn("cannot sign a push for subscription %llu; dropped", sub_id);
		metric_inc(svc->m.failed);
		drop_later(due, sub_id, room_id, false);
		goto out;
	}
	req->url = strdup(cols[C_ENDPOINT]);
	req->authorization = strdup(auth);
	if(!req->url || !req->authorization) goto out;
	req->sub_id = sub_id;
	req->room_id = room_id;
	req->from_seq = strtoll(cols[C_FROM], NULL, 10);
	req->to_seq = strtoll(cols[C_TO], NULL, 10);
	req->count = (int)strtol(cols[C_COUNT], NULL, 10);
	req->urgent = cols[C_URGENT][0] == '1';
	req->ttl_s = svc->cfg.ttl_s;
	req->submitted_ms = clock_mono_ms();
	room_topic(cols[C_ROOM], req->topic, sizeof(req->topic));
	b->key = (struct key){ sub_id, room_id };
	HASH_ADD(hh, d->busy, key, sizeof(b->key), b);
	b = NULL;
	log_debug("push to %s (subscription %llu): %s, %d messages up to seq %lld", cols[C_USER], sub_id,
			cols[C_ROOM], req->count, req->to_seq);
	sender_submit(svc->sender, req);
	req = NULL;
out:
	sender_request_free(req);
	free(b);
	cJSON_free(text);
	cJSON_Delete(payload);
	return 0;
}

static void poll_due(struct dispatch *d)
{
	struct push_svc *svc = d->svc;
	struct due_rows *due = calloc(1, sizeof(*due));
	struct db_param p[2];
	struct db *db = push_db_get(svc);

	if(!due || !db || (long)HASH_COUNT(d->busy) >= svc->cfg.max_in_flight) goto out;
	due->d = d;
	/* Rows in flight come back too (they are still owed): look past them. */
	p[0] = DB_I64(clock_wall_ms());
	p[1] = DB_I64(POLL_ROWS + (long)HASH_COUNT(d->busy));
	if(db_exec(db, due_sql, p, 2, due_row, due, NULL, NULL) != DB_OK){
		push_db_failed(svc);
		goto out;
	}
	metric_set(svc->m.queue_depth, due->rows);
	/* A full page: more are due; look again at the next turn. */
	if(due->rows >= p[1].i64) svc->next_poll_ms = 0;
	for(int i = 0; i < due->n_drop; i++){
		drop_owed(svc, due->drop[i].sub_id, due->drop[i].room_id);
		if(due->drop_online[i]) metric_inc(svc->m.dropped_online);
	}
out:
	free(due);
}

/* Records accepted pushes, all in one transaction (one log flush for a
 * whole turn's answers): the messages each covered are no longer owed, its
 * window starts, and push_log keeps (subscription, room, seq range). If
 * this fails, the pushes stay owed and go again: the duplicate case that
 * docs/PROTOCOL.md 3.10 names. */
static int record_sent(struct push_svc *svc, struct sender_request *const *reqs, int n)
{
	struct db *db = push_db_get(svc);
	struct db_param p[8];
	long long now = clock_wall_ms();

	if(n == 0) return 0;
	if(!db || db_begin(db) != DB_OK) goto fail;
	for(int i = 0; i < n; i++){
		const struct sender_request *req = reqs[i];

		/* A pending set that began after this push's range (the user
		 * came online, owed was dropped, and new messages came) is left
		 * alone. */
		p[0] = DB_I64(req->to_seq);
		p[1] = DB_I64(req->count);
		p[2] = DB_I64(req->to_seq);
		p[3] = DB_I64(now);
		p[4] = DB_I64(now + svc->cfg.window_ms);
		p[5] = DB_I64(req->sub_id);
		p[6] = DB_I64(req->room_id);
		if(db_exec(db, "UPDATE push_state SET"
				" pending_count = IF(pending_from_seq > ?, pending_count, GREATEST(pending_count - ?, 0)),"
				" pending_from_seq = GREATEST(pending_from_seq, ? + 1),"
				" sent_to_seq = GREATEST(sent_to_seq, pending_from_seq - 1),"
				" last_sent_ms = ?, due_ms = ?, attempts = 0, urgent = 0"
				" WHERE sub_id = ? AND room_id = ?", p, 7, NULL, NULL, NULL, NULL) != DB_OK){
			goto fail;
		}
		p[0] = DB_I64(req->sub_id);
		p[1] = DB_I64(req->room_id);
		p[2] = DB_I64(req->from_seq);
		p[3] = DB_I64(req->to_seq);
		p[4] = DB_I64(req->count);
		p[5] = DB_I64(req->status);
		if(db_exec(db, "INSERT IGNORE INTO push_log (sub_id, room_id, from_seq, to_seq, count, status)"
				" VALUES (?, ?, ?, ?, ?, ?)", p, 6, NULL, NULL, NULL, NULL) != DB_OK){
			goto fail;
		}
	}
	if(db_commit(db) != DB_OK) goto fail;
	return 0;
fail:
	log_warn("%d accepted pushes not recorded: they will be sent again", n);
	if(db) db_rollback(db);
	push_db_failed(svc);
	return -1;
}

/* Another try later, or the end of this push after max_attempts. */
static void retry_later(struct push_svc *svc, const struct sender_request *req)
{
	struct db *db = push_db_get(svc);
	struct db_param p[6];
	long long now = clock_wall_ms();

	if(!db) return; /* still owed; due again at once when the database is back */
	p[0] = DB_I64(svc->cfg.max_attempts);
	p[1] = DB_I64(req->retry_after_s >= 0 ? req->retry_after_s * 1000 : -1);
	p[2] = DB_I64(now);
	p[3] = DB_I64(BACKOFF_MAX_MS);
	p[4] = DB_I64(req->sub_id);
	p[5] = DB_I64(req->room_id);
	if(db_exec(db, "UPDATE push_state SET attempts = attempts + 1,"
			" pending_count = IF(attempts >= ?, 0, pending_count),"
			" due_ms = ? + IF(? >= 0, ?, LEAST(1000 * POW(2, attempts - 1), ?)),"
			" attempts = IF(pending_count = 0, 0, attempts)"
			" WHERE sub_id = ? AND room_id = ?",
			(struct db_param[]){ p[0], p[2], p[1], p[1], p[3], p[4], p[5] }, 7, NULL, NULL, NULL, NULL) != DB_OK){
		push_db_failed(svc);
	}
}

static void delete_subscription(struct push_svc *svc, unsigned long long sub_id)
{
	struct db *db = push_db_get(svc);
	struct db_param p[1] = { DB_I64(sub_id) };

	if(db && db_exec(db, "DELETE FROM push_subscriptions WHERE id = ?", p, 1, NULL, NULL, NULL, NULL) != DB_OK){
		push_db_failed(svc);
	}
}

/* Answers other than 2xx, one by one. */
static void finished(struct dispatch *d, struct sender_request *req)
{
	struct push_svc *svc = d->svc;
	long s = req->status;

	if(s == 404 || s == 410){
		log_info("push service answered %ld for subscription %llu: subscription deleted", s, req->sub_id);
		metric_inc(svc->m.pruned);
		delete_subscription(svc, req->sub_id);
	}else if(s == 0 || s == 429 || s >= 500){
		log_info("push to subscription %llu: %s; retrying later", req->sub_id, s ? "busy or failing" : req->error);
		metric_inc(svc->m.retried);
		retry_later(svc, req);
	}else{
		log_warn("push service refused a push for subscription %llu with %ld; dropped", req->sub_id, s);
		metric_inc(svc->m.failed);
		drop_owed(svc, req->sub_id, req->room_id);
	}
}

/* Most accepted pushes recorded in one transaction. */
#define RECORD_BATCH 256

void dispatch_tick(struct dispatch *d)
{
	struct push_svc *svc = d->svc;
	struct sender_request *req, *accepted[RECORD_BATCH];
	long long now = clock_mono_ms();
	int n_accepted = 0;

	do{
		req = sender_take(svc->sender);
		if(req){
			busy_clear(d, req->sub_id, req->room_id);
			/* What came meanwhile may be due now. */
			svc->next_poll_ms = 0;
			if(req->status >= 200 && req->status < 300){
				metric_inc(svc->m.sent);
				metric_observe(svc->m.latency, (double)(clock_mono_ms() - req->submitted_ms) / 1000.0);
				accepted[n_accepted++] = req;
				continue;
			}
			finished(d, req);
			sender_request_free(req);
		}
		if(!req || n_accepted == RECORD_BATCH){
			record_sent(svc, accepted, n_accepted);
			for(int i = 0; i < n_accepted; i++) sender_request_free(accepted[i]);
			n_accepted = 0;
		}
	}while(req);
	metric_set(svc->m.in_flight, HASH_COUNT(d->busy));
	/* Presence comes retained right after subscribing: until it is in,
	 * everyone would look offline. */
	if(!svc->connected_ms || now < svc->connected_ms + svc->cfg.startup_hold_ms) return;
	if(now < svc->next_poll_ms) return;
	svc->next_poll_ms = now + POLL_INTERVAL_MS;
	poll_due(d);
}

unsigned dispatch_in_flight(const struct dispatch *d)
{
	return HASH_COUNT(d->busy);
}

void dispatch_free(struct dispatch *d)
{
	struct busy *b, *tmp;

	if(!d) return;
	HASH_ITER(hh, d->busy, b, tmp){
		HASH_DEL(d->busy, b);
		free(b);
	}
	free(d);
}
