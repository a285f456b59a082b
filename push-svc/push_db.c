/* push_db.c: push-svc's one MariaDB connection; see push.h. */
#include "push.h"

#include "clock.h"
#include "log.h"

struct db *push_db_get(struct push_svc *svc)
{
	char err[512];
	long long now = clock_mono_ms();

	if(svc->db) return svc->db;
	if(now < svc->db_retry_at) return NULL;
	svc->db = db_open(&svc->cfg.db, err, sizeof(err));
	if(!svc->db){
		svc->db_retry_at = now + 1000;
		log_warn("MariaDB unreachable: %s", err);
	}
	return svc->db;
}

void push_db_failed(struct push_svc *svc)
{
	if(svc->db) log_warn("database error: %s", db_error(svc->db));
	db_close(svc->db);
	svc->db = NULL;
	svc->db_retry_at = clock_mono_ms() + 1000;
}
