/* fuzz_request_envelope.c: libFuzzer target for the request envelope both
 * services read (common/request_envelope.c, common/json_payload.c). The
 * input is a request payload. Invariants, under ASan and UBSan: a request
 * that may run has a valid req_id and an op from the table; a refusal has
 * a code, echoes only a valid req_id and a name-like op, and prints; a
 * payload cJSON itself reads as an object (and nested at most 64 levels)
 * is never refused as bad_json, unless a member name holds a NUL.
 *   make fuzz            (60 s)     make test runs it for 10 s */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "json_util.h"
#include "names.h"
#include "proto.h"
#include "request_envelope.h"

struct op {
	const char *name;
};

static const struct op ops[] = { { PROTO_OP_HISTORY }, { PROTO_OP_ROOMS }, { PROTO_OP_STATUS } };

/* True when the text has a NUL byte or a \u escape cJSON decodes to NUL:
 * \u0000, or \u not followed by four hex digits. */
static bool may_hold_nul(const uint8_t *data, size_t size)
{
	if(memchr(data, 0, size)) return true;
	for(size_t i = 0; i + 1 < size; i++){
		if(data[i] != '\\' || data[i + 1] != 'u') continue;
		if(i + 6 > size) return true;
		for(size_t k = i + 2; k < i + 6; k++){
			if(!isxdigit(data[k])) return true;
		}
		if(!memcmp(data + i + 2, "0000", 4)) return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request_envelope env;
	cJSON *reply = NULL, *raw = NULL;
	char *printed = NULL;
	int rc = request_envelope_read(&env, data, size, REQUEST_OPS(ops));

	if(env.req_id && !name_msgid_valid(env.req_id)) abort();
	if(env.op && (strlen(env.op) > PROTO_OP_MAX || !name_msgid_valid(env.op))) abort();
	if(rc == 0){
		if(env.code || !env.req_id || !env.op || env.op_index >= sizeof(ops) / sizeof(ops[0])) abort();
		if(strcmp(env.op, ops[env.op_index].name)) abort();
		if(size > PROTO_REQUEST_MAX_BYTES) abort();
		goto out;
	}
	if(rc != -1 || !env.code || !env.message[0]) abort();
	reply = request_envelope_refusal(&env);
	printed = reply ? cJSON_PrintUnformatted(reply) : NULL;
	if(!printed) abort();
	/* Refused as bad_json though cJSON reads it: only for a member name
	 * holding a NUL or a \u escape cJSON reads as one (json_payload.h). */
	if(!strcmp(env.code, PROTO_ERR_BAD_JSON) && !may_hold_nul(data, size)){
		raw = json_parse_object(data, size);
		if(raw) abort();
	}
out:
	cJSON_free(printed);
	cJSON_Delete(reply);
	cJSON_Delete(raw);
	request_envelope_free(&env);
	return 0;
}
