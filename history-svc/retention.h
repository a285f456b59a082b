/* retention.h: per-room retention (rooms.retain_count, rooms.retain_days),
 * applied in the background: on its own database connection, outside the
 * lock that message storage takes, in batches of 1,000 rows so that no
 * transaction holds locks for long. Sequence numbers are never reused: a
 * trimmed room's history simply starts later. The reactions and mentions
 * of the messages removed go too. */
#ifndef HISTORY_RETENTION_H
#define HISTORY_RETENTION_H

#include "history.h"

/* Runs one pass over every room with a limit, for at most budget_ms.
 * Returns the number of messages removed, or -1 on a database error (the
 * next pass tries again). */
long retention_pass(struct history_svc *svc, long budget_ms);

#endif
