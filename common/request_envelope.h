/* request_envelope.h: the part of a request every service reads the same
 * way (docs/PROTOCOL.md 4): the size limits, the JSON object, "req_id"
 * (required), "op" looked up in the service's op table, and the refusal
 * sent when any of that fails. A service reads the envelope, then runs
 * its op with the parsed request, or sends request_envelope_refusal.
 *
 * Checked in this order, each refusal echoing what is known by then:
 *   over PROTO_PAYLOAD_READ_MAX bytes  -> too_large, req_id and op null
 *   over PROTO_REQUEST_MAX_BYTES       -> too_large, req_id and op echoed
 *                                         when it is a JSON object (else null)
 *   nested over PROTO_MAX_DEPTH        -> too_deep,  req_id and op null
 *   not a JSON object                  -> bad_json,  req_id and op null
 *   req_id missing or invalid          -> bad_request, req_id null, op echoed
 *   op not in the table                -> unknown_op, both echoed
 * An echoed req_id is one that is valid; an echoed op is one made of
 * request-id characters and at most PROTO_OP_MAX bytes (else null). */
#ifndef CHAT_REQUEST_ENVELOPE_H
#define CHAT_REQUEST_ENVELOPE_H

#include <stddef.h>

#include <cJSON.h>

struct request_envelope {
	cJSON *json;         /* the request object, or NULL; request_envelope_free */
	const char *req_id;  /* valid req_id, or NULL; points into json */
	const char *op;      /* op to echo, or NULL; points into json */
	size_t op_index;     /* the op's entry in the table, when code is NULL */
	const char *code;    /* NULL when the request may run, else a PROTO_ERR_* */
	char message[256];   /* what is wrong, for the refusal */
};

/* Reads a request of len bytes. ops is the service's op table: count
 * entries of entry_size bytes, each a struct whose first member is its
 * `const char *name` (pass REQUEST_OPS(table)). Fills *env (free with
 * request_envelope_free) and returns 0 when the request may run
 * (env->op_index names its op), or -1 when it is refused (env->code and
 * env->message say why; send request_envelope_refusal). */
int request_envelope_read(struct request_envelope *env, const void *payload, size_t len,
		const void *ops, size_t count, size_t entry_size);

#define REQUEST_OPS(table) (table), sizeof(table) / sizeof((table)[0]), sizeof((table)[0])

/* Returns the reply refusing env ({"type":"reply","req_id","op","ok":false,
 * "error":{"code","message"}}), which the caller prints, sends and frees
 * with cJSON_Delete; NULL when out of memory. */
cJSON *request_envelope_refusal(const struct request_envelope *env);

/* Frees what request_envelope_read kept; the strings in env die with it. */
void request_envelope_free(struct request_envelope *env);

#endif
