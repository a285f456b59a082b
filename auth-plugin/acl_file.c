/* acl_file.c: Mosquitto-syntax ACL files; see acl_file.h. */
#include "acl_file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <uthash.h>

#include "file_util.h"
#include "plugin_alloc.h"

#define RULE_ACCESS_DENY 0
#define TOPIC_BUF 1024

struct acl_rule {
	int access;            /* ACL_READ | ACL_WRITE, or RULE_ACCESS_DENY */
	bool substitutes;      /* holds %u or %c (patterns only) */
	char *topic;
	struct acl_rule *next;
};

struct acl_user {
	char *name;
	struct acl_rule *rules;
	UT_hash_handle hh;
};

struct acl_file {
	struct acl_rule *anonymous;
	struct acl_user *users;
	struct acl_rule *patterns;
	size_t rule_count;
};

static char *dup_str(const char *s)
{
	size_t len = strlen(s) + 1;
	char *copy = plugin_calloc(1, len);

	if(copy) memcpy(copy, s, len);
	return copy;
}

static void rules_free(struct acl_rule *rule)
{
	while(rule){
		struct acl_rule *next = rule->next;
		plugin_free(rule->topic);
		plugin_free(rule);
		rule = next;
	}
}

void acl_file_free(struct acl_file *file)
{
	struct acl_user *user, *tmp;

	if(!file) return;
	rules_free(file->anonymous);
	rules_free(file->patterns);
	HASH_ITER(hh, file->users, user, tmp){
		HASH_DEL(file->users, user);
		rules_free(user->rules);
		plugin_free(user->name);
		plugin_free(user);
	}
	plugin_free(file);
}

/* Adds a rule to a list, deny rules in front (they are checked first). */
static int rule_add(struct acl_rule **list, int access, const char *topic)
{
	struct acl_rule *rule = plugin_calloc(1, sizeof(*rule));
	struct acl_rule **at = list;

	if(!rule) return -1;
	rule->topic = dup_str(topic);
	if(!rule->topic){
		plugin_free(rule);
		return -1;
	}
	rule->access = access;
	rule->substitutes = strstr(topic, "%u") || strstr(topic, "%c");
	if(access != RULE_ACCESS_DENY){
		while(*at) at = &(*at)->next;
	}
	rule->next = *at;
	*at = rule;
	return 0;
}

static int parse_access(const char *word, int *access)
{
	if(!strcmp(word, "read")) *access = ACL_READ;
	else if(!strcmp(word, "write")) *access = ACL_WRITE;
	else if(!strcmp(word, "readwrite")) *access = ACL_READ | ACL_WRITE;
	else if(!strcmp(word, "deny")) *access = RULE_ACCESS_DENY;
	else return -1;
	return 0;
}

int acl_file_parse(const char *text, const char *origin, struct acl_file **out, char *err, size_t errlen)
{
	struct acl_file *file = NULL;
	struct acl_user *current = NULL;
	char *copy = NULL;
	char *line, *next;
	int lineno = 0;
	int rc = -1;

	*out = NULL;
	file = plugin_calloc(1, sizeof(*file));
	copy = dup_str(text);
	if(!file || !copy){
		snprintf(err, errlen, "%s: out of memory", origin);
		goto out;
	}
	for(line = copy; line; line = next){
		char *word, *rest, *topic;
		int access = ACL_READ | ACL_WRITE;

		lineno++;
		next = strchr(line, '\n');
		if(next) *next++ = '\0';
		while(*line == ' ' || *line == '\t') line++;
		rest = line + strlen(line);
		while(rest > line && (rest[-1] == ' ' || rest[-1] == '\t' || rest[-1] == '\r')) *--rest = '\0';
		if(*line == '\0' || *line == '#') continue;
		word = line;
		rest = strpbrk(line, " \t");
		if(!rest){
			snprintf(err, errlen, "%s:%d: \"%s\" needs an argument", origin, lineno, word);
			goto out;
		}
		*rest++ = '\0';
		while(*rest == ' ' || *rest == '\t') rest++;
		if(!strcmp(word, "user")){
			if(*rest == '\0' || strpbrk(rest, "+#/")){
				snprintf(err, errlen, "%s:%d: user names cannot hold '+', '#' or '/'", origin, lineno);
				goto out;
			}
			HASH_FIND_STR(file->users, rest, current);
			if(!current){
				current = plugin_calloc(1, sizeof(*current));
				if(!current || !(current->name = dup_str(rest))){
					if(current) plugin_free(current);
					snprintf(err, errlen, "%s: out of memory", origin);
					goto out;
				}
				HASH_ADD_KEYPTR(hh, file->users, current->name, strlen(current->name), current);
			}
			continue;
		}
		if(strcmp(word, "topic") && strcmp(word, "pattern")){
			snprintf(err, errlen, "%s:%d: unknown keyword \"%s\" (expected user, topic or pattern)", origin, lineno, word);
			goto out;
		}
		topic = rest;
		/* An optional access word, then the topic (which may hold spaces). */
		{
			char *space = strpbrk(rest, " \t");
			if(space){
				char saved = *space;
				*space = '\0';
				if(parse_access(rest, &access) == 0){
					topic = space + 1;
					while(*topic == ' ' || *topic == '\t') topic++;
				}else{
					*space = saved;
				}
			}
		}
		if(*topic == '\0' || mosquitto_sub_topic_check(topic) != MOSQ_ERR_SUCCESS || strlen(topic) >= TOPIC_BUF){
			snprintf(err, errlen, "%s:%d: \"%s\" is not a valid topic filter", origin, lineno, topic);
			goto out;
		}
		if(rule_add(!strcmp(word, "pattern") ? &file->patterns : current ? &current->rules : &file->anonymous,
					access, topic)){
			snprintf(err, errlen, "%s: out of memory", origin);
			goto out;
		}
		file->rule_count++;
	}
	*out = file;
	file = NULL;
	rc = 0;
out:
	plugin_free(copy);
	acl_file_free(file);
	return rc;
}

int acl_file_load(const char *path, struct acl_file **out, char *err, size_t errlen)
{
	char *text = NULL;
	int rc = -1;

	*out = NULL;
	if(file_read_all(path, 16 * 1024 * 1024, "ACL file", &text, err, errlen)) goto out;
	rc = acl_file_parse(text, path, out, err, errlen);
out:
	free(text);
	return rc;
}

size_t acl_file_rule_count(const struct acl_file *file)
{
	return file ? file->rule_count : 0;
}

/* Splits the next level off *p; returns its length and advances *p past it
 * (and its '/'); *done is set after the last level. */
static size_t next_level(const char **p, const char **level, bool *done)
{
	const char *slash = strchr(*p, '/');
	size_t len = slash ? (size_t)(slash - *p) : strlen(*p);

	*level = *p;
	if(slash){
		*p = slash + 1;
	}else{
		*p += len;
		*done = true;
	}
	return len;
}

static bool is_level(const char *level, size_t len, char wild)
{
	return len == 1 && level[0] == wild;
}

int acl_filters_overlap(const char *a, const char *b)
{
	bool a_done = false, b_done = false;

	for(;;){
		const char *la, *lb;
		size_t na, nb;

		/* One side ran out: equal only if the other did too, or holds just
		 * a final '#' (which also matches its parent level). */
		if(a_done || b_done) return (a_done && b_done) || (a_done && !strcmp(b, "#")) || (b_done && !strcmp(a, "#"));
		na = next_level(&a, &la, &a_done);
		nb = next_level(&b, &lb, &b_done);
		if(is_level(la, na, '#') || is_level(lb, nb, '#')) return 1;
		if(is_level(la, na, '+') || is_level(lb, nb, '+')) continue;
		if(na != nb || memcmp(la, lb, na)) return 0;
	}
}

int acl_filter_covers(const char *outer, const char *inner)
{
	bool o_done = false, i_done = false;

	for(;;){
		const char *lo, *li;
		size_t no, ni;

		if(o_done || i_done) return (o_done && i_done) || (i_done && !strcmp(outer, "#"));
		no = next_level(&outer, &lo, &o_done);
		ni = next_level(&inner, &li, &i_done);
		if(is_level(lo, no, '#')) return 1;
		if(is_level(li, ni, '#')) return 0;
		if(is_level(lo, no, '+')) continue;
		if(is_level(li, ni, '+')) return 0;
		if(no != ni || memcmp(lo, li, no)) return 0;
	}
}

/* Writes rule's topic with %u and %c replaced into buf; -1 when it does not
 * fit or a needed name is missing (the rule then matches nothing). */
static int substitute(const char *topic, const char *username, const char *client_id, char *buf, size_t len)
{
	size_t out = 0;

	for(const char *p = topic; *p; p++){
		const char *insert = NULL;
		size_t n;

		if(p[0] == '%' && p[1] == 'u') insert = username ? username : NULL;
		else if(p[0] == '%' && p[1] == 'c') insert = client_id ? client_id : NULL;
		if(p[0] == '%' && (p[1] == 'u' || p[1] == 'c')){
			if(!insert) return -1;
			n = strlen(insert);
			if(out + n >= len) return -1;
			memcpy(buf + out, insert, n);
			out += n;
			p++;
			continue;
		}
		if(out + 1 >= len) return -1;
		buf[out++] = *p;
	}
	buf[out] = '\0';
	return 0;
}

/* 1 allow, 0 deny, -1 no rule matched. */
static int match_rules(const struct acl_rule *rule, const char *username, const char *client_id,
		int access, const char *topic)
{
	char expanded[TOPIC_BUF];
	const char *filter;
	bool matched;

	for(; rule; rule = rule->next){
		filter = rule->topic;
		if(rule->substitutes){
			if(substitute(rule->topic, username, client_id, expanded, sizeof(expanded))) continue;
			filter = expanded;
		}
		/* '$' topics match only rules that start with '$' too. */
		if((topic[0] == '$') != (filter[0] == '$')) continue;
		if(access == ACL_SUBSCRIBE){
			if(rule->access == RULE_ACCESS_DENY){
				if(acl_filter_covers(filter, topic)) return 0;
				continue;
			}
			if((rule->access & ACL_READ) && acl_filters_overlap(filter, topic)) return 1;
			continue;
		}
		matched = false;
		if(mosquitto_topic_matches_sub(filter, topic, &matched) != MOSQ_ERR_SUCCESS || !matched) continue;
		if(rule->access == RULE_ACCESS_DENY) return 0;
		if(rule->access & access) return 1;
	}
	return -1;
}

enum acl_answer acl_file_decide(const struct acl_file *file, const char *username,
		const char *client_id, int access, const char *topic)
{
	const struct acl_rule *own = NULL;
	struct acl_user *user = NULL;
	int verdict;

	if(!file || !topic) return ACL_DENY;
	if(access == ACL_UNSUBSCRIBE) return ACL_ALLOW;
	/* As in Mosquitto: names holding wildcards never match patterns. */
	if((username && strpbrk(username, "+#/")) || (client_id && strpbrk(client_id, "+#/"))) return ACL_DENY;
	if(username){
		HASH_FIND_STR(file->users, username, user);
		own = user ? user->rules : NULL;
	}else{
		own = file->anonymous;
	}
	verdict = match_rules(own, username, client_id, access, topic);
	if(verdict < 0) verdict = match_rules(file->patterns, username, client_id, access, topic);
	return verdict == 1 ? ACL_ALLOW : ACL_DENY;
}
