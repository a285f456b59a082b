/* timefmt.c: protocol timestamps; see timefmt.h. */
#include "timefmt.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

static void format(long long ms, char *out, bool iso)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&secs, &tm);
	n = strftime(out, TIMEFMT_LEN, iso ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out + n, TIMEFMT_LEN - n, ".%03d%s", (int)(ms % 1000), iso ? "Z" : "");
}

long long timefmt_now(char *iso, char *sql)
{
	struct timespec ts;
	long long ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000L;
	if(iso) format(ms, iso, true);
	if(sql) format(ms, sql, false);
	return ms;
}

void timefmt_iso(long long ms, char *iso)
{
	format(ms, iso, true);
}
