/* request_db.h: svc->db, the MariaDB connection that requests (and the
 * start-up check) use; the committer and retention have their own. */
#ifndef HISTORY_REQUEST_DB_H
#define HISTORY_REQUEST_DB_H

#include "history.h"

/* Makes sure svc->db is connected, retrying with backoff for up to
 * max_wait_ms. Returns 0 when connected, -1 when it is not (or the service
 * is stopping). The connection belongs to svc (closed at exit by main). */
int request_db_wait(struct history_svc *svc, long max_wait_ms);

#endif
