/* pwhash.c: PBKDF2-HMAC-SHA512 "$7$" password hashes; see pwhash.h. */
#include "pwhash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* Decodes standard base64 of exactly want bytes; returns 0 or -1. */
static int b64_decode_exact(const char *text, size_t text_len, unsigned char *out, size_t want)
{
	unsigned char buf[128];
	size_t pad = 0;
	int n;

	if(text_len == 0 || text_len % 4 != 0 || text_len / 4 * 3 > sizeof(buf)) return -1;
	if(text[text_len - 1] == '=') pad++;
	if(text[text_len - 2] == '=') pad++;
	n = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)text_len);
	if(n < 0 || (size_t)n - pad != want) return -1;
	memcpy(out, buf, want);
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

int pwhash_create_with_salt(const char *password, long iterations,
		const unsigned char salt[PWHASH_SALT_LEN], char *out, size_t outlen)
{
	unsigned char key[PWHASH_KEY_LEN];
	char salt_b64[32];
	char key_b64[96];
	int rc = -1;
	int n;

	if(!password || iterations < PWHASH_ITER_MIN || iterations > PWHASH_ITER_MAX) goto out;
	if(!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, PWHASH_SALT_LEN,
				(int)iterations, EVP_sha512(), PWHASH_KEY_LEN, key)){
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)salt_b64, salt, PWHASH_SALT_LEN);
	EVP_EncodeBlock((unsigned char *)key_b64, key, PWHASH_KEY_LEN);
	n = snprintf(out, outlen, "$7$%ld$%s$%s", iterations, salt_b64, key_b64);
	if(n < 0 || (size_t)n >= outlen) goto out;
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

int pwhash_create(const char *password, long iterations, char *out, size_t outlen)
{
	unsigned char salt[PWHASH_SALT_LEN];

	if(RAND_bytes(salt, sizeof(salt)) != 1) return -1;
	return pwhash_create_with_salt(password, iterations, salt, out, outlen);
}

/* mosquitto_passwd's older "$6$BASE64(salt)$BASE64(SHA512(password || salt))". */
static int verify_sha512(const char *password, const char *stored)
{
	unsigned char salt[PWHASH_SALT_LEN];
	unsigned char want[64];
	unsigned char got[64];
	const char *salt_text = stored + 3;
	const char *key_text = strchr(salt_text, '$');
	EVP_MD_CTX *ctx = NULL;
	unsigned int got_len = 0;
	int rc = -1;

	if(!key_text) goto out;
	if(b64_decode_exact(salt_text, (size_t)(key_text - salt_text), salt, sizeof(salt))) goto out;
	key_text++;
	if(b64_decode_exact(key_text, strlen(key_text), want, sizeof(want))) goto out;
	ctx = EVP_MD_CTX_new();
	if(!ctx || !EVP_DigestInit_ex(ctx, EVP_sha512(), NULL)
			|| !EVP_DigestUpdate(ctx, password, strlen(password))
			|| !EVP_DigestUpdate(ctx, salt, sizeof(salt))
			|| !EVP_DigestFinal_ex(ctx, got, &got_len) || got_len != sizeof(got)){
		goto out;
	}
	rc = CRYPTO_memcmp(want, got, sizeof(got)) == 0 ? 1 : 0;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(got, sizeof(got));
	return rc;
}

int pwhash_verify(const char *password, const char *stored)
{
	unsigned char salt[PWHASH_SALT_LEN];
	unsigned char want[PWHASH_KEY_LEN];
	unsigned char got[PWHASH_KEY_LEN];
	const char *iter_text, *salt_text, *key_text;
	char *end = NULL;
	long iterations;
	int rc = -1;

	if(password && stored && !strncmp(stored, "$6$", 3)) return verify_sha512(password, stored);
	if(!password || !stored || strncmp(stored, "$7$", 3)) goto out;
	iter_text = stored + 3;
	errno = 0;
	iterations = strtol(iter_text, &end, 10);
	if(errno || end == iter_text || *end != '$') goto out;
	if(iterations < PWHASH_ITER_MIN || iterations > PWHASH_ITER_MAX) goto out;
	salt_text = end + 1;
	key_text = strchr(salt_text, '$');
	if(!key_text) goto out;
	if(b64_decode_exact(salt_text, (size_t)(key_text - salt_text), salt, sizeof(salt))) goto out;
	key_text++;
	if(b64_decode_exact(key_text, strlen(key_text), want, sizeof(want))) goto out;
	if(!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof(salt),
				(int)iterations, EVP_sha512(), sizeof(got), got)){
		goto out;
	}
	rc = CRYPTO_memcmp(want, got, sizeof(got)) == 0 ? 1 : 0;
out:
	OPENSSL_cleanse(got, sizeof(got));
	OPENSSL_cleanse(want, sizeof(want));
	return rc;
}
