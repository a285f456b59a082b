/* chat_net_account.c: the account requests of a running session (/tokens,
 * /revoke, /password; docs/PROTOCOL.md 4.7), sent to history-svc like the
 * others (chat_net_requests.c) and answered by events: CHAT_EV_TOKEN
 * lines, or CHAT_EV_REPLY / CHAT_EV_ERROR with the op. A password request
 * is never written to the --trace file (chat_net_ops.c). */
#include "chat_net_int.h"

#include <string.h>

#include <cJSON.h>

#include "random_id.h"
#include "token.h"

/* Sends req (an object with its op and fields; freed here) with a new
 * req_id. Returns 0, or -1 after an error event. */
static int send_account(struct chat_net *net, cJSON *req)
{
	char req_id[2 * CHAT_REQID_BYTES + 1];
	char *payload = NULL;
	int rc = -1;

	if(!req || random_hex(req_id, sizeof(req_id), CHAT_REQID_BYTES) || !cJSON_AddStringToObject(req, "req_id", req_id)
			|| !(payload = cJSON_PrintUnformatted(req))){
		chat_net_error(net, "send_failed", "out of memory");
		goto out;
	}
	rc = requests__send(net, req_id, payload, "", CHAT_TAG_NONE, "history");
	payload = NULL; /* taken */
out:
	cJSON_Delete(req);
	return rc;
}

int chat_net_tokens(struct chat_net *net)
{
	cJSON *req = cJSON_CreateObject();

	if(req && !cJSON_AddStringToObject(req, "op", "tokens")){
		cJSON_Delete(req);
		req = NULL;
	}
	return send_account(net, req);
}

int chat_net_revoke_token(struct chat_net *net, const char *id)
{
	cJSON *req = NULL;

	if(!token_id_valid(id)){
		chat_net_error(net, "usage", "/revoke ID: ID is a token id of 16 hex digits, as /tokens lists them");
		return -1;
	}
	req = cJSON_CreateObject();
	if(req && (!cJSON_AddStringToObject(req, "op", "revoke_token") || !cJSON_AddStringToObject(req, "id", id))){
		cJSON_Delete(req);
		req = NULL;
	}
	return send_account(net, req);
}

int chat_net_password(struct chat_net *net, const char *old_pw, const char *new_pw, int revoke_tokens)
{
	cJSON *req = cJSON_CreateObject();

	if(req && (!cJSON_AddStringToObject(req, "op", "password") || !cJSON_AddStringToObject(req, "old", old_pw)
				|| !cJSON_AddStringToObject(req, "new", new_pw) || !cJSON_AddBoolToObject(req, "revoke_tokens", revoke_tokens))){
		cJSON_Delete(req);
		req = NULL;
	}
	return send_account(net, req);
}
