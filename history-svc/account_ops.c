/* account_ops.c: token, tokens, revoke_token, password; see account_ops.h.
 * Secrets never reach a log: a new token is in the reply only (and its
 * SHA-256 in MariaDB); passwords are only hashed and compared. */
#include "account_ops.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "json_util.h"
#include "proto.h"
#include "pwhash.h"
#include "replies.h"
#include "reply_queue.h"
#include "timefmt.h"
#include "token.h"

static int count_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	(void)lens;
	if(ncols >= 1 && cols[0]) *(long *)ud = strtol(cols[0], NULL, 10);
	return 1;
}

struct token_times {
	char created[40];
	char expires[40];
	bool found;
};

static int times_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct token_times *t = ud;

	(void)lens;
	if(ncols == 2 && cols[0]){
		snprintf(t->created, sizeof(t->created), "%s", cols[0]);
		snprintf(t->expires, sizeof(t->expires), "%s", cols[1] ? cols[1] : "");
		t->found = true;
	}
	return 1;
}

static const char sql_active_count[] =
	"SELECT COUNT(*) FROM tokens t JOIN users u ON u.id = t.user_id"
	" WHERE u.username = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > NOW(3))";
static const char sql_token_insert[] =
	"INSERT INTO tokens (id, user_id, secret_sha256, label, expires_at)"
	" SELECT ?, u.id, ?, ?, IF(? > 0, NOW(3) + INTERVAL ? SECOND, NULL) FROM users u WHERE u.username = ?";
static const char sql_token_times[] =
	"SELECT " TIMEFMT_SQL("created_at") ", IF(expires_at IS NULL, NULL, " TIMEFMT_SQL("expires_at") ")"
	" FROM tokens WHERE id = ?";

int account_token(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	struct token_new fresh;
	struct token_times times = { .found = false };
	struct db_param params[6];
	unsigned long long affected = 0;
	const char *label;
	long lifetime_s, active = 0;
	cJSON *reply = NULL;
	int rc = -1;

	label = json_get_str(req, "label", TOKEN_LABEL_MAX);
	if(!label || !token_label_valid(label)){
		reply_error(svc, user, PROTO_OP_TOKEN, req_id, PROTO_ERR_BAD_REQUEST,
				"\"label\" must be 1-64 bytes of UTF-8 text without control characters");
		rc = 0;
		goto out;
	}
	if(json_get_long(req, "lifetime_s", 0, 60, ACCOUNT_TOKEN_LIFETIME_MAX, &lifetime_s)){
		reply_error(svc, user, PROTO_OP_TOKEN, req_id, PROTO_ERR_BAD_REQUEST,
				"\"lifetime_s\" must be a whole number of seconds from 60 to 315360000");
		rc = 0;
		goto out;
	}
	params[0] = DB_STR(user);
	if(db_exec(svc->db, sql_active_count, params, 1, count_row, &active, NULL, NULL) != DB_OK) goto out;
	if(active >= ACCOUNT_TOKENS_MAX){
		reply_error(svc, user, PROTO_OP_TOKEN, req_id, PROTO_ERR_FORBIDDEN,
				"you hold 50 tokens already; revoke one first");
		rc = 0;
		goto out;
	}
	if(token_create(&fresh)) goto out;
	params[0] = DB_STR(fresh.id);
	params[1] = DB_STR(fresh.hash_hex);
	params[2] = DB_STR(label);
	params[3] = DB_I64(lifetime_s);
	params[4] = DB_I64(lifetime_s);
	params[5] = DB_STR(user);
	if(db_exec(svc->db, sql_token_insert, params, 6, NULL, NULL, &affected, NULL) != DB_OK) goto out;
	params[0] = DB_STR(fresh.id);
	if(affected != 1 || db_exec(svc->db, sql_token_times, params, 1, times_row, &times, NULL, NULL) != DB_OK
			|| !times.found){
		goto out;
	}
	reply = reply_new(PROTO_OP_TOKEN, req_id, 1);
	if(!reply) goto out;
	cJSON_AddStringToObject(reply, "token", fresh.token);
	cJSON_AddStringToObject(reply, "id", fresh.id);
	cJSON_AddStringToObject(reply, "label", label);
	cJSON_AddStringToObject(reply, "created", times.created);
	if(times.expires[0]) cJSON_AddStringToObject(reply, "expires", times.expires);
	else cJSON_AddNullToObject(reply, "expires");
	/* Sent when every broker has loaded the token: usable at once. */
	reply_queue_push(svc, user, reply, svc->cfg.settle_ms);
	rc = 0;
out:
	OPENSSL_cleanse(&fresh, sizeof(fresh));
	cJSON_Delete(reply);
	return rc;
}

static void add_time_or_null(cJSON *item, const char *key, const char *value)
{
	if(value) cJSON_AddStringToObject(item, key, value);
	else cJSON_AddNullToObject(item, key);
}

static int tokens_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	cJSON *item, *scope, *rooms;
	char copy[TOKEN_SCOPE_ROOMS_MAX * 65 + 1];
	char *save = NULL;

	(void)lens;
	if(ncols != 7 || !cols[0] || !cols[1] || !cols[2] || !cols[6]) return 0;
	item = cJSON_CreateObject();
	if(!item) return 1;
	cJSON_AddStringToObject(item, "id", cols[0]);
	cJSON_AddStringToObject(item, "label", cols[1]);
	cJSON_AddStringToObject(item, "created", cols[2]);
	add_time_or_null(item, "last_used", cols[3]);
	add_time_or_null(item, "expires", cols[4]);
	if(!cols[5]){
		cJSON_AddNullToObject(item, "scope");
	}else if((scope = cJSON_AddObjectToObject(item, "scope")) && (rooms = cJSON_AddArrayToObject(scope, "rooms"))){
		snprintf(copy, sizeof(copy), "%s", cols[5]);
		for(char *room = strtok_r(copy, ",", &save); room; room = strtok_r(NULL, ",", &save)){
			cJSON_AddItemToArray(rooms, cJSON_CreateString(room));
		}
		cJSON_AddStringToObject(scope, "mode", cols[6]);
	}
	cJSON_AddItemToArray(ud, item);
	return 0;
}

int account_tokens(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	struct db_param params[1] = { DB_STR(user) };

	(void)req;
	return reply_list(svc, user, PROTO_OP_TOKENS, req_id, "tokens",
			"SELECT t.id, t.label, " TIMEFMT_SQL("t.created_at") ","
			" IF(t.last_used IS NULL, NULL, " TIMEFMT_SQL("t.last_used") "),"
			" IF(t.expires_at IS NULL, NULL, " TIMEFMT_SQL("t.expires_at") "), t.scope_rooms, t.scope_mode"
			" FROM tokens t JOIN users u ON u.id = t.user_id"
			" WHERE u.username = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > NOW(3))"
			" ORDER BY t.created_at, t.id",
			params, 1, tokens_row);
}

int account_revoke_token(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	struct db_param params[2];
	unsigned long long affected = 0;
	const char *id = json_get_str(req, "id", TOKEN_ID_LEN);
	cJSON *reply = NULL;
	int rc = -1;

	if(!id || !token_id_valid(id)){
		reply_error(svc, user, PROTO_OP_REVOKE_TOKEN, req_id, PROTO_ERR_BAD_REQUEST, "\"id\" must be a token id (16 hex digits)");
		rc = 0;
		goto out;
	}
	params[0] = DB_STR(id);
	params[1] = DB_STR(user);
	if(db_exec(svc->db, "UPDATE tokens t JOIN users u ON u.id = t.user_id SET t.revoked_at = NOW(3)"
				" WHERE t.id = ? AND u.username = ? AND t.revoked_at IS NULL",
				params, 2, NULL, NULL, &affected, NULL) != DB_OK) goto out;
	if(affected == 0){
		/* Someone else's token answers the same as none at all. */
		reply_error(svc, user, PROTO_OP_REVOKE_TOKEN, req_id, PROTO_ERR_NOT_FOUND, "you have no token with that id");
		rc = 0;
		goto out;
	}
	reply = reply_new(PROTO_OP_REVOKE_TOKEN, req_id, 1);
	if(!reply) goto out;
	cJSON_AddStringToObject(reply, "id", id);
	/* Sent when every broker has dropped the token and closed its connections. */
	reply_queue_push(svc, user, reply, svc->cfg.settle_ms);
	rc = 0;
out:
	cJSON_Delete(reply);
	return rc;
}

static int hash_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	(void)lens;
	if(ncols == 1 && cols[0]) snprintf(ud, PWHASH_MAX_LEN, "%s", cols[0]);
	return 1;
}

/* Reads "old", "new" and "revoke_tokens"; replies bad_request and returns 1
 * when one is missing or breaks the rules. */
static int read_password_fields(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req,
		const char **old_pw, const char **new_pw, bool *revoke)
{
	const cJSON *flag = cJSON_GetObjectItemCaseSensitive(req, "revoke_tokens");
	const char *problem = NULL;

	*old_pw = json_get_str(req, "old", ACCOUNT_PASSWORD_MAX);
	*new_pw = json_get_str(req, "new", ACCOUNT_PASSWORD_MAX);
	if(!*old_pw || !**old_pw) problem = "\"old\" must be your current password";
	else if(!*new_pw || !**new_pw) problem = "\"new\" must be a password of 1-254 bytes";
	else if(token_is_token(*new_pw)) problem = "a password may not start with \"ct1.\" (the token prefix)";
	else if(flag && !cJSON_IsBool(flag)) problem = "\"revoke_tokens\" must be true or false";
	if(problem){
		reply_error(svc, user, PROTO_OP_PASSWORD, req_id, PROTO_ERR_BAD_REQUEST, problem);
		return 1;
	}
	*revoke = flag && cJSON_IsTrue(flag);
	return 0;
}

int account_password(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	char stored[PWHASH_MAX_LEN] = "";
	char fresh[PWHASH_MAX_LEN] = "";
	struct db_param params[3];
	unsigned long long changed = 0, revoked = 0;
	const char *old_pw, *new_pw;
	bool revoke;
	cJSON *reply = NULL;
	int rc = -1;

	if(read_password_fields(svc, user, req_id, req, &old_pw, &new_pw, &revoke)){
		rc = 0;
		goto out;
	}
	params[0] = DB_STR(user);
	if(db_exec(svc->db, "SELECT pw_hash FROM users WHERE username = ?", params, 1, hash_row, stored, NULL, NULL) != DB_OK) goto out;
	if(pwhash_verify(old_pw, stored) != 1){
		reply_error(svc, user, PROTO_OP_PASSWORD, req_id, PROTO_ERR_BAD_PASSWORD, "\"old\" is not your current password");
		rc = 0;
		goto out;
	}
	if(pwhash_create(new_pw, PWHASH_ITER_DEFAULT, fresh, sizeof(fresh))) goto out;
	if(db_begin(svc->db) != DB_OK) goto out;
	/* Only over the hash just checked: a change made meanwhile wins. */
	params[0] = DB_STR(fresh);
	params[1] = DB_STR(user);
	params[2] = DB_STR(stored);
	if(db_exec(svc->db, "UPDATE users SET pw_hash = ? WHERE username = ? AND pw_hash = ?",
				params, 3, NULL, NULL, &changed, NULL) != DB_OK) goto out;
	if(changed == 1 && revoke){
		params[0] = DB_STR(user);
		if(db_exec(svc->db, "UPDATE tokens t JOIN users u ON u.id = t.user_id SET t.revoked_at = NOW(3)"
					" WHERE u.username = ? AND t.revoked_at IS NULL", params, 1, NULL, NULL, &revoked, NULL) != DB_OK) goto out;
	}
	if(db_commit(svc->db) != DB_OK) goto out;
	if(changed != 1){
		reply_error(svc, user, PROTO_OP_PASSWORD, req_id, PROTO_ERR_BAD_PASSWORD, "your password changed meanwhile; try again");
		rc = 0;
		goto out;
	}
	reply = reply_new(PROTO_OP_PASSWORD, req_id, 1);
	if(!reply) goto out;
	cJSON_AddNumberToObject(reply, "revoked_tokens", (double)revoked);
	/* Sent when every broker takes the new password (and has closed the
	 * revoked tokens' connections). */
	reply_queue_push(svc, user, reply, svc->cfg.settle_ms);
	rc = 0;
out:
	OPENSSL_cleanse(stored, sizeof(stored));
	OPENSSL_cleanse(fresh, sizeof(fresh));
	cJSON_Delete(reply);
	return rc;
}
