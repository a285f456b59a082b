/* config.h: "key = value" configuration files shared by the services and tools.
 * Lines are "key = value"; '#' starts a comment line; blank lines are ignored.
 * A later line for the same key replaces an earlier one. */
#ifndef CHAT_CONFIG_H
#define CHAT_CONFIG_H

#include <stddef.h>

struct config;

/* Reads the file at path. On success returns 0 and *out owns a config that
 * the caller frees with config_free. On failure returns -1 and writes a
 * message naming the file and line into err (errlen bytes). */
int config_load(const char *path, struct config **out, char *err, size_t errlen);

/* Parses text held in memory (same syntax); same contract as config_load,
 * with origin used in error messages. */
int config_parse(const char *text, const char *origin, struct config **out,
		char *err, size_t errlen);

/* Returns the value for key, or def when the key is absent. The string
 * belongs to the config and lives until config_free. */
const char *config_get(const struct config *cfg, const char *key, const char *def);

/* Reads an integer in [min, max]. Returns 0 with *out set (def when absent),
 * or -1 with a message in err when the value is not such an integer. */
int config_get_long(const struct config *cfg, const char *key, long def,
		long min, long max, long *out, char *err, size_t errlen);

/* Frees cfg and every string it holds; NULL is allowed. */
void config_free(struct config *cfg);

#endif
