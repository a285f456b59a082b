/* token_login.c: a token login's check; see token_login.h. */
#include "token_login.h"

#include <string.h>

#include <openssl/crypto.h>

#include "token_conns.h"

const struct snapshot_token *token_login_check(const struct snapshot *snap, const char *user,
		const char *password, long long now_ms)
{
	const struct snapshot_token *tok = NULL;
	const struct snapshot_token *found;
	char id[TOKEN_ID_LEN + 1];
	unsigned char hash[TOKEN_HASH_LEN];

	if(!snap || !user || token_parse(password, id, hash)) goto out;
	found = snapshot_token(snap, id);
	if(!found || strcmp(found->user->name, user)) goto out;
	if(CRYPTO_memcmp(hash, found->hash, TOKEN_HASH_LEN)) goto out;
	if(!token_usable(found, now_ms)) goto out;
	tok = found;
out:
	OPENSSL_cleanse(hash, sizeof(hash));
	return tok;
}
