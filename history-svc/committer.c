/* committer.c: the group-commit thread and its queue; see committer.h. */
#include "committer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "clock.h"
#include "history_metrics.h"
#include "intake_log.h"
#include "log.h"
#include "outbox.h"
#include "store.h"
#include "store_meta.h"

struct committer {
	struct history_svc *svc;
	struct committer_opts opts;
	struct intake_log *log;   /* guarded by lock */
	struct db *db;            /* the thread's own connection */
	char server[300];         /* the server it last wrote through */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t queued;    /* a message was queued, or stop */
	pthread_cond_t stored;    /* a batch was stored */
	struct intake_msg *head, *tail;
	long pending;
	unsigned long long taken; /* messages ever queued */
	unsigned long long done;  /* messages ever stored or refused */
	atomic_bool stopping;
};

static void enqueue(struct committer *c, struct intake_msg *msg)
{
	msg->next = NULL;
	if(c->tail) c->tail->next = msg;
	else c->head = msg;
	c->tail = msg;
	c->pending++;
	c->taken++;
	msg->taken_ms = clock_mono_ms();
	history_metrics_backlog(c->svc->metrics, c->pending);
}

static void enqueue_replayed(void *ud, struct intake_msg *msg)
{
	enqueue(ud, msg);
}

/* Connects the thread's own MariaDB connection, waiting with backoff as
 * long as it takes. Returns false only when stopping. */
static bool db_ready(struct committer *c)
{
	long backoff_ms = 100;
	unsigned failures = 0;
	char err[512];

	while(!c->db){
		if(atomic_load(&c->stopping)) return false;
		c->db = db_open(&c->svc->cfg.db, err, sizeof(err));
		if(c->db){
			if(strcmp(c->server, db_server(c->db)) != 0){
				snprintf(c->server, sizeof(c->server), "%s", db_server(c->db));
				log_info("storage: writing through MariaDB %s", c->server);
			}
			break;
		}
		if(failures++ % 10 == 0) log_warn("storage: %s; retrying (messages wait in the intake log)", err);
		for(long step = 0; step < backoff_ms && !atomic_load(&c->stopping); step += 50) usleep(50 * 1000);
		backoff_ms = backoff_ms * 2 > 2000 ? 2000 : backoff_ms * 2;
	}
	return true;
}

static void db_drop(struct committer *c)
{
	db_close(c->db);
	c->db = NULL;
}

/* Stores one message on its own, retrying on database errors; a message a
 * live database keeps refusing is given up after 20 attempts (reported to
 * its sender as unavailable). Returns false only when stopping. */
static bool store_alone(struct committer *c, const struct intake_msg *msg, struct store_result *result)
{
	for(int attempt = 1; ; attempt++){
		if(!db_ready(c)) return false;
		store_one(c->db, msg, result);
		if(result->status != STORE_RETRY) return true;
		log_warn("storing %s/%s failed (%s); attempt %d", msg->room, msg->msg_id, db_error(c->db), attempt);
		db_drop(c);
		if(attempt == 20) return true;
	}
}

/* Sleeps up to ms, less when stopping. */
static void pause_ms(struct committer *c, long ms)
{
	for(long step = 0; step < ms && !atomic_load(&c->stopping); step += 20) usleep(20 * 1000);
}

/* Stores a batch, falling back to one message at a time when it holds a
 * duplicate or keeps failing. A batch whose transaction the server aborted
 * (DB_RETRY: a deadlock, or a Galera certification conflict) was rolled
 * back; one whose connection or node was lost (DB_GONE) was rolled back or,
 * when lost at COMMIT, perhaps committed. Either way the same batch runs
 * again, for as long as it takes, on a fresh connection (to the next usable
 * node): the lookup of stored messages finds what did commit with its seq,
 * so nothing is stored twice or renumbered, no receipt goes out before a
 * COMMIT succeeded, and no message is refused for an abort. Only 3 other
 * errors send the batch message by message. Returns false only when
 * stopping. */
static bool store_all(struct committer *c, struct intake_msg **msgs, int n, struct store_result *results)
{
	long aborts = 0;
	int errors = 0;

	while(errors < 3){
		int rc;

		if(!db_ready(c)) return false;
		rc = store_batch(c->db, msgs, n, results);
		if(rc == DB_OK) return true;
		if(rc == DB_DUPLICATE) break;
		if(rc == DB_RETRY || rc == DB_GONE) aborts++;
		else errors++;
		/* A conflict storm logs every 50th abort as a warning. */
		log_msg(rc != DB_RETRY || aborts % 50 == 1 ? LOG_WARN : LOG_DEBUG,
				"storing a batch of %d %s (%s); attempt %ld", n,
				rc == DB_RETRY ? "was aborted by the server" : rc == DB_GONE ? "lost its server" : "failed",
				db_error(c->db), errors + aborts);
		db_drop(c);
		/* Let a conflicting writer finish before running again. */
		if(rc == DB_RETRY) pause_ms(c, aborts < 25 ? aborts * 20 : 500);
	}
	for(int i = 0; i < n; i++){
		if(!store_alone(c, msgs[i], &results[i])) return false;
	}
	return true;
}

static void *run(void *arg)
{
	struct committer *c = arg;
	struct intake_msg **msgs = calloc((size_t)c->opts.batch_max, sizeof(*msgs));
	struct store_result *results = calloc((size_t)c->opts.batch_max, sizeof(*results));
	long long started_us;
	int n = 0;

	if(!msgs || !results){
		log_error("storage: out of memory; no message will be stored");
		goto out;
	}
	while(!atomic_load(&c->stopping)){
		pthread_mutex_lock(&c->lock);
		while(!c->head && !atomic_load(&c->stopping)) pthread_cond_wait(&c->queued, &c->lock);
		for(n = 0; c->head && n < c->opts.batch_max; n++){
			msgs[n] = c->head;
			c->head = c->head->next;
		}
		if(!c->head) c->tail = NULL;
		c->pending -= n;
		history_metrics_backlog(c->svc->metrics, c->pending);
		pthread_mutex_unlock(&c->lock);
		if(n == 0) continue;
		history_metrics_batch_begin(c->svc->metrics, msgs[0]->taken_ms);
		started_us = clock_mono_us();
		if(!store_all(c, msgs, n, results)) break; /* stopping: the log keeps them */
		pthread_mutex_lock(&c->svc->lock);
		for(int i = 0; i < n; i++){
			outbox_report(c->svc, msgs[i], &results[i]);
			store_result_reset(&results[i]);
		}
		pthread_mutex_unlock(&c->svc->lock);
		pthread_mutex_lock(&c->lock);
		intake_log_checkpoint(c->log, msgs[n - 1]);
		c->done += (unsigned long long)n;
		history_metrics_batch_end(c->svc->metrics, n, clock_mono_us() - started_us, c->head ? c->head->taken_ms : 0);
		pthread_cond_broadcast(&c->stored);
		pthread_mutex_unlock(&c->lock);
		for(int i = 0; i < n; i++) free(msgs[i]);
		n = 0;
	}
out:
	for(int i = 0; i < n; i++) free(msgs[i]);
	for(long i = 0; results && i < c->opts.batch_max; i++) store_result_reset(&results[i]);
	free(msgs);
	free(results);
	db_drop(c);
	return NULL;
}

struct committer *committer_start(struct history_svc *svc, const struct committer_opts *opts,
		char *err, size_t errlen)
{
	struct committer *c = calloc(1, sizeof(*c));
	long replayed;

	if(!c){
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->svc = svc;
	c->opts = *opts;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->queued, NULL);
	pthread_cond_init(&c->stored, NULL);
	atomic_init(&c->stopping, false);
	c->log = intake_log_open(opts->dir, opts->rotate_bytes, err, errlen);
	if(!c->log) goto fail;
	replayed = intake_log_replay(c->log, enqueue_replayed, c, err, errlen);
	if(replayed < 0) goto fail;
	if(replayed > 0) log_info("storing %ld messages taken before the last stop", replayed);
	if(pthread_create(&c->thread, NULL, run, c)){
		snprintf(err, errlen, "cannot start the storage thread");
		goto fail;
	}
	c->started = true;
	return c;
fail:
	committer_stop(c);
	return NULL;
}

int committer_take(struct committer *c, const char *room, const char *sender, const struct room_msg *checked)
{
	static time_t last_complaint;
	struct intake_msg *msg = NULL;
	char err[256];
	int meta_failed = 0;
	/* An edit's text goes where a message's body does; other events have none. */
	const char *body = checked->kind == ROOM_MSG_EDIT ? checked->text : checked->body ? checked->body : "";
	size_t body_len = checked->kind == ROOM_MSG_EDIT ? checked->text_len : checked->body_len;
	char *meta = store_meta_encode(checked, &meta_failed);
	int taken = 0;

	pthread_mutex_lock(&c->lock);
	if(meta_failed){
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	if(c->pending >= c->opts.max_pending){
		snprintf(err, sizeof(err), "%ld messages wait for MariaDB", c->pending);
		goto out;
	}
	msg = intake_log_append_meta(c->log, room, sender, checked->msg_id, body, body_len,
			meta, meta ? strlen(meta) : 0, err, sizeof(err));
	if(!msg) goto out;
	enqueue(c, msg);
	pthread_cond_signal(&c->queued);
	taken = 1;
out:
	pthread_mutex_unlock(&c->lock);
	cJSON_free(meta);
	if(!taken && time(NULL) != last_complaint){
		last_complaint = time(NULL);
		log_warn("not taking more messages for now: %s", err);
	}
	return taken;
}

bool committer_wait_stored(struct committer *c, long timeout_ms)
{
	struct timespec deadline;
	unsigned long long target;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if(deadline.tv_nsec >= 1000000000L){
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	target = c->taken;
	while(c->done < target){
		if(pthread_cond_timedwait(&c->stored, &c->lock, &deadline) == ETIMEDOUT) break;
	}
	ok = c->done >= target;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

void committer_stop(struct committer *c)
{
	struct intake_msg *msg, *next;

	if(!c) return;
	if(c->started){
		pthread_mutex_lock(&c->lock);
		atomic_store(&c->stopping, true);
		pthread_cond_broadcast(&c->queued);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->thread, NULL);
	}
	for(msg = c->head; msg; msg = next){
		next = msg->next;
		free(msg);
	}
	intake_log_close(c->log);
	pthread_cond_destroy(&c->queued);
	pthread_cond_destroy(&c->stored);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
