/* token.c: login tokens; see token.h. */
#include "token.h"

#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "names.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char hex[] = "0123456789abcdef";

/* SHA-256 fetched once: OpenSSL 3's one-shot SHA256() looks the algorithm
 * up on every call, which cost more than the hash itself (about 1 us). */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* SHA-256 of len bytes into out; returns 0, or -1 when OpenSSL fails. */
static int sha256(const void *data, size_t len, unsigned char out[TOKEN_HASH_LEN])
{
	pthread_once(&sha256_once, sha256_fetch);
	if(!sha256_md) return -1;
	return EVP_Digest(data, len, out, NULL, sha256_md, NULL) == 1 ? 0 : -1;
}

/* True for the 64 characters of base64url. */
static bool b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* base64url without padding of len bytes into out (4 * len / 3 rounded up
 * characters and a NUL). */
static void b64url_encode(const unsigned char *in, size_t len, char *out)
{
	size_t o = 0;

	for(size_t i = 0; i < len; i += 3){
		unsigned v = (unsigned)in[i] << 16;
		size_t left = len - i;

		if(left > 1) v |= (unsigned)in[i + 1] << 8;
		if(left > 2) v |= in[i + 2];
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		if(left > 1) out[o++] = b64url[(v >> 6) & 63];
		if(left > 2) out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
}

static void to_hex(const unsigned char *in, size_t len, char *out)
{
	for(size_t i = 0; i < len; i++){
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int token_create(struct token_new *out)
{
	unsigned char id_bytes[TOKEN_ID_LEN / 2];
	unsigned char secret[TOKEN_SECRET_BYTES];
	unsigned char hash[TOKEN_HASH_LEN];
	char secret_text[TOKEN_SECRET_LEN + 1];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if(RAND_bytes(id_bytes, sizeof(id_bytes)) != 1 || RAND_bytes(secret, sizeof(secret)) != 1) goto out;
	to_hex(id_bytes, sizeof(id_bytes), out->id);
	b64url_encode(secret, sizeof(secret), secret_text);
	if(sha256(secret_text, TOKEN_SECRET_LEN, hash)) goto out;
	to_hex(hash, sizeof(hash), out->hash_hex);
	memcpy(out->token, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
	memcpy(out->token + TOKEN_PREFIX_LEN, out->id, TOKEN_ID_LEN);
	out->token[TOKEN_PREFIX_LEN + TOKEN_ID_LEN] = '.';
	memcpy(out->token + TOKEN_PREFIX_LEN + TOKEN_ID_LEN + 1, secret_text, TOKEN_SECRET_LEN + 1);
	rc = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(secret_text, sizeof(secret_text));
	return rc;
}

bool token_is_token(const char *password)
{
	return password && !strncmp(password, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
}

bool token_id_valid(const char *id)
{
	if(!id || strlen(id) != TOKEN_ID_LEN) return false;
	for(size_t i = 0; i < TOKEN_ID_LEN; i++){
		if(!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return false;
	}
	return true;
}

int token_parse(const char *password, char *id, unsigned char hash[TOKEN_HASH_LEN])
{
	const char *secret;

	if(!token_is_token(password) || strlen(password) != TOKEN_LEN) return -1;
	memcpy(id, password + TOKEN_PREFIX_LEN, TOKEN_ID_LEN);
	id[TOKEN_ID_LEN] = '\0';
	if(!token_id_valid(id) || password[TOKEN_PREFIX_LEN + TOKEN_ID_LEN] != '.') return -1;
	secret = password + TOKEN_PREFIX_LEN + TOKEN_ID_LEN + 1;
	for(size_t i = 0; i < TOKEN_SECRET_LEN; i++){
		if(!b64url_char(secret[i])) return -1;
	}
	return sha256(secret, TOKEN_SECRET_LEN, hash);
}

static int hex_value(char c)
{
	const char *p = c ? strchr(hex, c) : NULL;

	return p ? (int)(p - hex) : -1;
}

int token_hash_from_hex(const char *text, unsigned char hash[TOKEN_HASH_LEN])
{
	if(!text || strlen(text) != TOKEN_HASH_HEX_LEN) return -1;
	for(size_t i = 0; i < TOKEN_HASH_LEN; i++){
		int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);

		if(hi < 0 || lo < 0) return -1;
		hash[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

bool token_label_valid(const char *label)
{
	size_t len = label ? strlen(label) : 0;

	if(len == 0 || len > TOKEN_LABEL_MAX || !utf8_valid(label, len)) return false;
	for(size_t i = 0; i < len; i++){
		unsigned char c = (unsigned char)label[i];

		if(c < 0x20 || c == 0x7f) return false;
	}
	return true;
}
