/* log.c: levelled logging to stderr; see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_program = "chat";
static enum log_level log_max = LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_setup(const char *program, enum log_level level)
{
	log_program = program;
	log_max = level;
}

int log_level_parse(const char *name)
{
	for(int i = 0; i < 4; i++){
		if(!strcmp(name, level_names[i])) return i;
	}
	return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char stamp[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if(level > log_max) return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One fprintf per part keeps lines whole enough for log files that
	 * only this process writes. */
	flockfile(stderr);
	fprintf(stderr, "%s.%03ldZ %s %s: ", stamp, now.tv_nsec / 1000000L,
			log_program, level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	fflush(stderr);
}
