/* retention.c: background retention; see retention.h. */
#include "retention.h"

#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "clock.h"

#define BATCH 1000
#define MAX_ROOMS 1024

struct limited_room {
	unsigned long long id, last_seq, count, days;
	int has_count, has_days;
};

struct room_list {
	struct limited_room rooms[MAX_ROOMS];
	int n;
};

static int first_u64(void *ud, int ncols, char **cols, unsigned long *lens)
{
	unsigned long long *out = ud;

	(void)lens;
	if(ncols >= 1 && cols[0]) *out = strtoull(cols[0], NULL, 10);
	return 1;
}

/* Drops the reactions and mentions of r's messages gone by retention (all
 * below its oldest message left). Returns the rows removed, or -1. */
static long trim_message_rows(struct db *db, const struct limited_room *r, long long deadline)
{
	struct db_param params[2] = { DB_I64(r->last_seq + 1), DB_I64(r->id) };
	unsigned long long oldest = r->last_seq + 1, affected;
	long removed = 0;

	if(db_exec(db, "SELECT COALESCE(MIN(seq), ?) FROM messages WHERE room_id = ?",
				params, 2, first_u64, &oldest, NULL, NULL) != DB_OK) return -1;
	params[0] = DB_I64(r->id);
	params[1] = DB_I64(oldest);
	do{
		if(db_exec(db, "DELETE FROM reactions WHERE room_id = ? AND seq < ? LIMIT 1000",
					params, 2, NULL, NULL, &affected, NULL) != DB_OK) return -1;
		removed += (long)affected;
	}while(affected == BATCH && clock_mono_ms() < deadline);
	do{
		if(db_exec(db, "DELETE FROM mentions WHERE room_id = ? AND seq < ? LIMIT 1000",
					params, 2, NULL, NULL, &affected, NULL) != DB_OK) return -1;
		removed += (long)affected;
	}while(affected == BATCH && clock_mono_ms() < deadline);
	return removed;
}

static int room_fn(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct room_list *list = ud;
	struct limited_room *r;

	(void)lens;
	if(ncols != 4 || !cols[0] || !cols[1] || list->n == MAX_ROOMS) return 0;
	r = &list->rooms[list->n++];
	r->id = strtoull(cols[0], NULL, 10);
	r->last_seq = strtoull(cols[1], NULL, 10);
	r->has_count = cols[2] != NULL;
	r->count = cols[2] ? strtoull(cols[2], NULL, 10) : 0;
	r->has_days = cols[3] != NULL;
	r->days = cols[3] ? strtoull(cols[3], NULL, 10) : 0;
	return 0;
}

long retention_pass(struct history_svc *svc, long budget_ms)
{
	struct room_list *list = calloc(1, sizeof(*list));
	long long deadline = clock_mono_ms() + budget_ms;
	struct db_param params[2];
	unsigned long long affected;
	long removed = 0, trimmed = 0;
	char err[512];

	if(!list) return -1;
	if(!svc->retention_db){
		svc->retention_db = db_open(&svc->cfg.db, err, sizeof(err));
		if(!svc->retention_db){
			log_warn("retention: %s", err);
			removed = -1;
			goto out;
		}
	}
	if(db_exec(svc->retention_db, "SELECT id, last_seq, retain_count, retain_days FROM rooms"
				" WHERE retain_count IS NOT NULL OR retain_days IS NOT NULL", NULL, 0, room_fn, list, NULL, NULL) != DB_OK){
		goto failed;
	}
	for(int i = 0; i < list->n && clock_mono_ms() < deadline; i++){
		struct limited_room *r = &list->rooms[i];

		if(r->has_count && r->last_seq > r->count){
			do{
				params[0] = DB_I64(r->id);
				params[1] = DB_I64(r->last_seq - r->count);
				if(db_exec(svc->retention_db, "DELETE FROM messages WHERE room_id = ? AND seq <= ? LIMIT 1000",
							params, 2, NULL, NULL, &affected, NULL) != DB_OK) goto failed;
				removed += (long)affected;
			}while(affected == BATCH && clock_mono_ms() < deadline);
		}
		if(r->has_days){
			do{
				params[0] = DB_I64(r->id);
				params[1] = DB_I64(r->days);
				if(db_exec(svc->retention_db, "DELETE FROM messages WHERE room_id = ?"
							" AND created_at < NOW(3) - INTERVAL ? DAY LIMIT 1000",
							params, 2, NULL, NULL, &affected, NULL) != DB_OK) goto failed;
				removed += (long)affected;
			}while(affected == BATCH && clock_mono_ms() < deadline);
		}
		if(clock_mono_ms() < deadline){
			long rows = trim_message_rows(svc->retention_db, r, deadline);

			if(rows < 0) goto failed;
			trimmed += rows;
		}
	}
	if(removed > 0) log_info("retention: removed %ld old messages", removed);
	if(trimmed > 0) log_info("retention: removed %ld reactions and mentions of removed messages", trimmed);
	goto out;
failed:
	log_warn("retention: %s", db_error(svc->retention_db));
	db_close(svc->retention_db);
	svc->retention_db = NULL;
	removed = -1;
out:
	free(list);
	return removed;
}
