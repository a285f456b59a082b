/* log.h: levelled logging to stderr for the daemons and tools.
 * The broker plugin does not use this: it logs with mosquitto_log_printf. */
#ifndef CHAT_LOG_H
#define CHAT_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Sets the most verbose level printed (default LOG_INFO) and the program
 * name put in front of each line (not copied: pass a string that lives on). */
void log_setup(const char *program, enum log_level level);

/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else. */
int log_level_parse(const char *name);

/* printf-style; adds time, program, level and a newline. */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
