/* request_envelope.c: reading a request's envelope; see request_envelope.h. */
#include "request_envelope.h"

#include <stdio.h>
#include <string.h>

#include "json_payload.h"
#include "json_util.h"
#include "names.h"
#include "proto.h"

static int refuse(struct request_envelope *env, const char *code, const char *message)
{
	env->code = code;
	snprintf(env->message, sizeof(env->message), "%s", message);
	return -1;
}

/* The name of entry i of a table whose entries start with their name. */
static const char *op_name(const void *ops, size_t entry_size, size_t i)
{
	return *(const char *const *)((const char *)ops + i * entry_size);
}

/* "\"op\" must be one of a, b, c" from the table. */
static int refuse_unknown_op(struct request_envelope *env, const void *ops, size_t count, size_t entry_size)
{
	size_t at;

	env->code = PROTO_ERR_UNKNOWN_OP;
	at = (size_t)snprintf(env->message, sizeof(env->message), "\"op\" must be one of");
	for(size_t i = 0; i < count && at < sizeof(env->message); i++){
		at += (size_t)snprintf(env->message + at, sizeof(env->message) - at, "%s %s",
				i ? "," : "", op_name(ops, entry_size, i));
	}
	return -1;
}

int request_envelope_read(struct request_envelope *env, const void *payload, size_t len,
		const void *ops, size_t count, size_t entry_size)
{
	enum json_payload_status status;
	const char *op;

	memset(env, 0, sizeof(*env));
	if(len > PROTO_PAYLOAD_READ_MAX) return refuse(env, PROTO_ERR_TOO_LARGE, "requests are limited to 4096 bytes");
	status = json_payload_parse(payload, len, PROTO_MAX_DEPTH, &env->json);
	if(status == JSON_PAYLOAD_OK){
		env->req_id = json_get_str(env->json, "req_id", NAME_MSGID_MAX);
		if(env->req_id && !name_msgid_valid(env->req_id)) env->req_id = NULL;
		op = json_get_str(env->json, "op", PROTO_OP_MAX);
		if(op && name_msgid_valid(op)) env->op = op;
	}
	/* Too large whatever it holds; read only to echo req_id and op. */
	if(len > PROTO_REQUEST_MAX_BYTES) return refuse(env, PROTO_ERR_TOO_LARGE, "requests are limited to 4096 bytes");
	switch(status){
	case JSON_PAYLOAD_OK:
		break;
	case JSON_PAYLOAD_TOO_DEEP:
		return refuse(env, PROTO_ERR_TOO_DEEP, "objects and arrays nest over 64 levels");
	case JSON_PAYLOAD_NOT_OBJECT:
		return refuse(env, PROTO_ERR_BAD_JSON, "the request is not a JSON object");
	case JSON_PAYLOAD_NO_MEMORY:
		return refuse(env, PROTO_ERR_UNAVAILABLE, "out of memory; try again");
	}
	if(!env->req_id){
		return refuse(env, PROTO_ERR_BAD_REQUEST,
				"\"req_id\" must be 1-64 characters of A-Z, a-z, 0-9, '_', '-'");
	}
	for(size_t i = 0; env->op && i < count; i++){
		if(!strcmp(env->op, op_name(ops, entry_size, i))){
			env->op_index = i;
			return 0;
		}
	}
	return refuse_unknown_op(env, ops, count, entry_size);
}

cJSON *request_envelope_refusal(const struct request_envelope *env)
{
	cJSON *reply = json_reply_new(env->op, env->req_id, false);

	if(reply && json_reply_set_error(reply, env->code ? env->code : PROTO_ERR_BAD_REQUEST, env->message)){
		cJSON_Delete(reply);
		reply = NULL;
	}
	return reply;
}

void request_envelope_free(struct request_envelope *env)
{
	cJSON_Delete(env->json);
	memset(env, 0, sizeof(*env));
}
