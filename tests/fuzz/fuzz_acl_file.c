/* fuzz_acl_file.c: libFuzzer target for the ACL-file parser and the topic
 * matchers of auth-plugin/acl_file.c. The input is split at the first NUL
 * byte: before it an ACL file, after it a user name, client id and topic
 * (separated by newlines). Every parse must succeed or fail cleanly and every
 * decision must be allow or deny, under ASan and UBSan.
 *   make fuzz            (60 s)     make test runs it for 10 s */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../auth-plugin/acl_file.h"

static char *dup_range(const uint8_t *data, size_t len)
{
	char *s = malloc(len + 1);

	if(!s) return NULL;
	memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t text_len = nul ? (size_t)(nul - data) : size;
	char *text = dup_range(data, text_len);
	char *rest = nul ? dup_range(nul + 1, size - text_len - 1) : NULL;
	char *user = NULL, *client = NULL, *topic = NULL;
	struct acl_file *file = NULL;
	char err[256];
	static const int accesses[] = { ACL_READ, ACL_WRITE, ACL_SUBSCRIBE, ACL_UNSUBSCRIBE };

	if(!text) goto out;
	if(acl_file_parse(text, "fuzz", &file, err, sizeof(err)) != 0) goto out;
	if(!rest) goto out;
	user = rest;
	client = strchr(user, '\n');
	if(!client) goto out;
	*client++ = '\0';
	topic = strchr(client, '\n');
	if(!topic) goto out;
	*topic++ = '\0';
	if(*topic == '\0') goto out;
	for(size_t i = 0; i < sizeof(accesses) / sizeof(accesses[0]); i++){
		enum acl_answer answer = acl_file_decide(file, *user ? user : NULL, client, accesses[i], topic);
		if(answer != ACL_ALLOW && answer != ACL_DENY) abort();
	}
	/* The filter helpers are defined on valid filters: feed them the
	 * topic against itself and against "#", which always hold. */
	if(mosquitto_sub_topic_check(topic) == MOSQ_ERR_SUCCESS){
		if(!acl_filters_overlap(topic, topic) || !acl_filter_covers("#", topic)) abort();
		if(!acl_filter_covers(topic, topic)) abort();
	}
out:
	acl_file_free(file);
	free(text);
	free(rest);
	return 0;
}
