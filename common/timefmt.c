/* timefmt.c: protocol timestamps; see timefmt.h. */
#include "timefmt.h"

#include "clock.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
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
	long long ms = clock_wall_ms();

	if(iso) format(ms, iso, true);
	if(sql) format(ms, sql, false);
	return ms;
}

void timefmt_iso(long long ms, char *iso)
{
	format(ms, iso, true);
}

long long timefmt_parse_iso(const char *iso)
{
	struct tm tm;
	int ms = 0, used = 0;

	if(!iso) return 0;
	memset(&tm, 0, sizeof(tm));
	if(sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
				&tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &used) != 7 || used == 0 || iso[used]){
		return 0;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm) * 1000LL + ms;
}
