/* config.c: "key = value" configuration files; see config.h. */
#include "config.h"

#include "file_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct config_entry {
	char *key;
	char *value;
};

struct config {
	struct config_entry *entries;
	size_t count;
	size_t cap;
};

static char *trim(char *s)
{
	char *end;

	while(*s && isspace((unsigned char)*s)) s++;
	end = s + strlen(s);
	while(end > s && isspace((unsigned char)end[-1])) end--;
	*end = '\0';
	return s;
}

static int config_set(struct config *cfg, const char *key, const char *value)
{
	char *key_copy = NULL;
	char *value_copy = NULL;
	int rc = -1;

	for(size_t i = 0; i < cfg->count; i++){
		if(!strcmp(cfg->entries[i].key, key)){
			value_copy = strdup(value);
			if(!value_copy) goto out;
			free(cfg->entries[i].value);
			cfg->entries[i].value = value_copy;
			value_copy = NULL;
			rc = 0;
			goto out;
		}
	}
	if(cfg->count == cfg->cap){
		size_t cap = cfg->cap ? cfg->cap * 2 : 16;
		struct config_entry *grown = realloc(cfg->entries, cap * sizeof(*grown));
		if(!grown) goto out;
		cfg->entries = grown;
		cfg->cap = cap;
	}
	key_copy = strdup(key);
	value_copy = strdup(value);
	if(!key_copy || !value_copy) goto out;
	cfg->entries[cfg->count].key = key_copy;
	cfg->entries[cfg->count].value = value_copy;
	cfg->count++;
	key_copy = NULL;
	value_copy = NULL;
	rc = 0;
out:
	free(key_copy);
	free(value_copy);
	return rc;
}

int config_parse(const char *text, const char *origin, struct config **out,
		char *err, size_t errlen)
{
	struct config *cfg = NULL;
	char *copy = NULL;
	char *line, *next;
	int lineno = 0;
	int rc = -1;

	*out = NULL;
	cfg = calloc(1, sizeof(*cfg));
	copy = strdup(text);
	if(!cfg || !copy){
		snprintf(err, errlen, "%s: out of memory", origin);
		goto out;
	}
	for(line = copy; line; line = next){
		char *eq, *key, *value;

		lineno++;
		next = strchr(line, '\n');
		if(next) *next++ = '\0';
		line = trim(line);
		if(*line == '\0' || *line == '#') continue;
		eq = strchr(line, '=');
		if(!eq){
			snprintf(err, errlen, "%s:%d: expected \"key = value\"", origin, lineno);
			goto out;
		}
		*eq = '\0';
		key = trim(line);
		value = trim(eq + 1);
		if(*key == '\0'){
			snprintf(err, errlen, "%s:%d: empty key", origin, lineno);
			goto out;
		}
		for(const char *k = key; *k; k++){
			if(!islower((unsigned char)*k) && !isdigit((unsigned char)*k) && *k != '_' && *k != '.'){
				snprintf(err, errlen, "%s:%d: key \"%s\" may hold only a-z, 0-9, '_' and '.'",
						origin, lineno, key);
				goto out;
			}
		}
		if(config_set(cfg, key, value)){
			snprintf(err, errlen, "%s: out of memory", origin);
			goto out;
		}
	}
	*out = cfg;
	cfg = NULL;
	rc = 0;
out:
	free(copy);
	config_free(cfg);
	return rc;
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	char *text = NULL;
	int rc = -1;

	*out = NULL;
	if(file_read_all(path, 1024 * 1024, "configuration file", &text, err, errlen)) goto out;
	rc = config_parse(text, path, out, err, errlen);
out:
	free(text);
	return rc;
}

const char *config_get(const struct config *cfg, const char *key, const char *def)
{
	if(!cfg) return def;
	for(size_t i = 0; i < cfg->count; i++){
		if(!strcmp(cfg->entries[i].key, key)) return cfg->entries[i].value;
	}
	return def;
}

int config_get_long(const struct config *cfg, const char *key, long def,
		long min, long max, long *out, char *err, size_t errlen)
{
	const char *text = config_get(cfg, key, NULL);
	char *end = NULL;
	long value;

	if(!text){
		*out = def;
		return 0;
	}
	errno = 0;
	value = strtol(text, &end, 10);
	if(errno || end == text || *end != '\0' || value < min || value > max){
		snprintf(err, errlen, "%s = \"%s\": expected a whole number from %ld to %ld",
				key, text, min, max);
		return -1;
	}
	*out = value;
	return 0;
}

void config_free(struct config *cfg)
{
	if(!cfg) return;
	for(size_t i = 0; i < cfg->count; i++){
		free(cfg->entries[i].key);
		free(cfg->entries[i].value);
	}
	free(cfg->entries);
	free(cfg);
}
