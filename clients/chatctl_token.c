/* chatctl_token.c: `chatctl token add|list|revoke` (docs/ADMIN.md, "Tokens"):
 * login tokens an admin issues for a user, scoped ones for devices. The
 * token is printed once, on stdout; only the SHA-256 of its secret is
 * stored (common/token.h). Every change reaches every broker within its
 * refresh interval (triggers bump auth_version); a revoked token's
 * connections are closed then. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "chatctl.h"
#include "names.h"
#include "token.h"

/* Checks a comma-separated list of room names; prints why not and returns 2. */
static int check_scope_rooms(const char *rooms)
{
	char copy[TOKEN_SCOPE_ROOMS_MAX * (NAME_ROOM_MAX + 1) + 1];
	char *save = NULL;
	int count = 0;

	if(strlen(rooms) >= sizeof(copy)) goto bad;
	memcpy(copy, rooms, strlen(rooms) + 1);
	for(char *room = strtok_r(copy, ",", &save); room; room = strtok_r(NULL, ",", &save)){
		if(!name_room_valid(room) || ++count > TOKEN_SCOPE_ROOMS_MAX) goto bad;
	}
	if(count > 0) return 0;
bad:
	fprintf(stderr, "chatctl: --rooms takes 1-%d room names separated by commas\n", TOKEN_SCOPE_ROOMS_MAX);
	return 2;
}

int chatctl_token_add(struct db *db, char **args, const struct options *opts)
{
	struct token_new fresh;
	struct db_param params[8];
	unsigned long long affected = 0;
	int rc = 2;

	memset(&fresh, 0, sizeof(fresh));
	if(!name_user_valid(args[0])){
		fprintf(stderr, "chatctl: no such user name %s\n", args[0]);
		goto out;
	}
	if(!opts->label || !token_label_valid(opts->label)){
		fprintf(stderr, "chatctl: token add needs --label of 1-%d bytes of text\n", TOKEN_LABEL_MAX);
		goto out;
	}
	if(opts->rooms && check_scope_rooms(opts->rooms)) goto out;
	if(!opts->rooms && strcmp(opts->scope_mode, "full")){
		fprintf(stderr, "chatctl: --publish-only and --read-only need --rooms\n");
		goto out;
	}
	rc = 1;
	if(token_create(&fresh)){
		fprintf(stderr, "chatctl: no random bytes for a token\n");
		goto out;
	}
	params[0] = DB_STR(fresh.id);
	params[1] = DB_STR(fresh.hash_hex);
	params[2] = DB_STR(opts->label);
	params[3] = DB_I64(opts->lifetime_s);
	params[4] = DB_I64(opts->lifetime_s);
	params[5] = opts->rooms ? DB_STR(opts->rooms) : (struct db_param){ .type = DB_PARAM_NULL };
	params[6] = DB_STR(opts->scope_mode);
	params[7] = DB_STR(args[0]);
	rc = chatctl_report(db, db_exec(db, "INSERT INTO tokens (id, user_id, secret_sha256, label, expires_at, scope_rooms, scope_mode)"
				" SELECT ?, u.id, ?, ?, IF(? > 0, NOW(3) + INTERVAL ? SECOND, NULL), ?, ? FROM users u WHERE u.username = ?",
				params, 8, NULL, NULL, &affected, NULL), "token add");
	if(rc) goto out;
	if(affected != 1){
		fprintf(stderr, "chatctl: no user %s\n", args[0]);
		rc = 1;
		goto out;
	}
	/* The token alone on stdout (for scripts); what it is on stderr. */
	printf("%s\n", fresh.token);
	fprintf(stderr, "token %s for %s (%s%s%s%s); shown only now\n", fresh.id, args[0],
			opts->rooms ? "rooms " : "all the user's rooms", opts->rooms ? opts->rooms : "",
			opts->rooms ? ", " : "", opts->rooms ? opts->scope_mode : "");
out:
	OPENSSL_cleanse(&fresh, sizeof(fresh));
	return rc;
}

int chatctl_token_list(struct db *db, char **args, const struct options *opts)
{
	struct db_param params[1] = { DB_STR(args[0]) };

	(void)opts;
	return chatctl_list(db, "SELECT t.id, t.label, t.created_at, t.last_used, t.expires_at,"
			" IF(t.scope_rooms IS NULL, 'all', CONCAT(t.scope_mode, ':', t.scope_rooms)),"
			" IF(t.revoked_at IS NOT NULL, 'revoked', IF(t.expires_at IS NOT NULL AND t.expires_at <= NOW(3), 'expired', 'active'))"
			" FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.username = ? ORDER BY t.created_at, t.id",
			params, 1, "id\tlabel\tcreated\tlast_used\texpires\tscope\tstate");
}

int chatctl_token_revoke(struct db *db, char **args, const struct options *opts)
{
	struct db_param params[1] = { DB_STR(args[0]) };
	unsigned long long affected = 0;
	int rc;

	(void)opts;
	if(!token_id_valid(args[0])){
		fprintf(stderr, "chatctl: a token id is 16 hex digits (chatctl token list USER)\n");
		return 2;
	}
	rc = chatctl_report(db, db_exec(db, "UPDATE tokens SET revoked_at = NOW(3) WHERE id = ? AND revoked_at IS NULL",
				params, 1, NULL, NULL, &affected, NULL), "token revoke");
	if(rc == 0 && affected == 0){
		fprintf(stderr, "chatctl: no such token, or already revoked\n");
		return 1;
	}
	if(rc == 0) printf("revoked %s\n", args[0]);
	return rc;
}
