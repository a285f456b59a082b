/* timefmt.h: the one timestamp format of docs/PROTOCOL.md,
 * "2026-11-28T02:00:00.123Z" (UTC, milliseconds), and its SQL twin. */
#ifndef CHAT_TIMEFMT_H
#define CHAT_TIMEFMT_H

#include <stddef.h>

#define TIMEFMT_LEN 32

/* SQL expression printing a TIMESTAMP(3) column in the protocol format;
 * use as: "SELECT " TIMEFMT_SQL("m.created_at") " FROM ...". */
#define TIMEFMT_SQL(col) "CONCAT(DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%s.'), " \
	"LPAD(FLOOR(MICROSECOND(" col ") / 1000), 3, '0'), 'Z')"

/* Current time: writes the protocol form into iso and the SQL literal form
 * ("2026-11-28 02:00:00.123") into sql, each TIMEFMT_LEN bytes; either may
 * be NULL. Returns milliseconds since the epoch. */
long long timefmt_now(char *iso, char *sql);

/* Formats ms since the epoch in the protocol form into iso (TIMEFMT_LEN). */
void timefmt_iso(long long ms, char *iso);

/* Parses the protocol form ("2026-11-28T02:00:00.123Z", exactly) into ms
 * since the epoch. Returns 0 for NULL or anything not in that form. */
long long timefmt_parse_iso(const char *iso);

#endif
