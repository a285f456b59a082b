/* acl_file.h: the admin's ACL file, in Mosquitto's own syntax, for topics
 * outside the chat tree (IoT devices, dashboards...):
 *   # comment
 *   topic [read|write|readwrite|deny] TOPIC      (before any "user": clients without a user name)
 *   user NAME
 *   topic [read|write|readwrite|deny] TOPIC      (for NAME)
 *   pattern [read|write|readwrite|deny] TOPIC    (for everyone; %u = user name, %c = client id)
 * As in Mosquitto, "deny" rules are checked before the others and a topic no
 * rule matches is denied. A subscription is allowed when some rule that
 * grants read could match topics of the filter and no deny rule covers the
 * whole filter; each delivered message is then checked by its topic. Rules
 * are looked up by user name in a hash table, so a check costs that user's
 * rules plus the patterns, with no I/O. Loaded at start and on SIGHUP. */
#ifndef AUTH_ACL_FILE_H
#define AUTH_ACL_FILE_H

#include <stddef.h>

#include <mosquitto.h>

#include "acl.h"

struct acl_file;

/* Parses the file at path. Returns 0 with *out set (free with
 * acl_file_free), or -1 with a message naming path:line in err. */
int acl_file_load(const char *path, struct acl_file **out, char *err, size_t errlen);

/* Parses text held in memory; origin names it in messages. Same contract. */
int acl_file_parse(const char *text, const char *origin, struct acl_file **out, char *err, size_t errlen);

/* Decides access (ACL_READ, ACL_WRITE, ACL_SUBSCRIBE, ACL_UNSUBSCRIBE) to
 * topic for a client (username may be NULL). Returns ACL_ALLOW or ACL_DENY. */
enum acl_answer acl_file_decide(const struct acl_file *file, const char *username,
		const char *client_id, int access, const char *topic);

/* Number of rules loaded (user topics + patterns + anonymous topics). */
size_t acl_file_rule_count(const struct acl_file *file);

/* Frees file; NULL allowed. */
void acl_file_free(struct acl_file *file);

/* Topic helpers used by the rules, exposed for unit tests and fuzzing:
 * true when two filters can match a common topic; true when filter `outer`
 * matches every topic `inner` can. Both take valid filters. */
int acl_filters_overlap(const char *a, const char *b);
int acl_filter_covers(const char *outer, const char *inner);

#endif
