/* request_db.c: connecting svc->db with backoff; see request_db.h. */
#include "request_db.h"

#include <unistd.h>

#include "log.h"

int request_db_wait(struct history_svc *svc, long max_wait_ms)
{
	long backoff_ms = 100;
	long waited_ms = 0;
	char err[512];

	while(!svc->db){
		if(*svc->stop) return -1;
		svc->db = db_open(&svc->cfg.db, err, sizeof(err));
		if(svc->db){
			log_info("connected to MariaDB");
			break;
		}
		if(waited_ms >= max_wait_ms){
			log_warn("%s; giving up for now", err);
			return -1;
		}
		log_warn("%s; retrying in %ld ms", err, backoff_ms);
		for(long step = 0; step < backoff_ms && !*svc->stop; step += 100) usleep(100 * 1000);
		waited_ms += backoff_ms;
		backoff_ms = backoff_ms * 2 > 2000 ? 2000 : backoff_ms * 2;
	}
	return 0;
}
