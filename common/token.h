/* token.h: login tokens (docs/PROTOCOL.md 1, "Tokens"). A token is used as
 * the MQTT password with its owner's user name:
 *   ct1.<id>.<secret>
 * "ct1." marks it (no password may start so), <id> is 16 lowercase hex
 * digits (8 random bytes), the public key the plugin finds the token by,
 * and <secret> is the base64url text (no padding) of 32 random bytes from
 * OpenSSL's RAND_bytes. Only the SHA-256 of the secret text is stored: a
 * 256-bit random secret needs no slow hash, so a check costs one SHA-256
 * and one constant-time compare. Shared by the plugin (checks), history-svc
 * and chatctl (issue tokens). */
#ifndef CHAT_TOKEN_H
#define CHAT_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define TOKEN_PREFIX "ct1."
#define TOKEN_PREFIX_LEN 4
#define TOKEN_ID_LEN 16
#define TOKEN_SECRET_BYTES 32
#define TOKEN_SECRET_LEN 43 /* base64url of 32 bytes, unpadded */
#define TOKEN_LEN (TOKEN_PREFIX_LEN + TOKEN_ID_LEN + 1 + TOKEN_SECRET_LEN)
#define TOKEN_HASH_LEN 32
#define TOKEN_HASH_HEX_LEN 64
#define TOKEN_LABEL_MAX 64
/* Most scope rooms one token may name. */
#define TOKEN_SCOPE_ROOMS_MAX 16

/* A token just made: the string handed to its owner once, and what is
 * stored. */
struct token_new {
	char token[TOKEN_LEN + 1];
	char id[TOKEN_ID_LEN + 1];
	char hash_hex[TOKEN_HASH_HEX_LEN + 1];
};

/* Makes a fresh token into *out. Returns 0, or -1 when OpenSSL's random
 * generator fails. The caller should OPENSSL_cleanse(out->token) after use. */
int token_create(struct token_new *out);

/* True when password has the token prefix (it is then checked as a token
 * only, never as a password). */
bool token_is_token(const char *password);

/* Splits a token string into its id (into id, TOKEN_ID_LEN + 1 bytes) and
 * the SHA-256 of its secret (into hash). Returns 0, or -1 when the string
 * does not have the token's exact shape (wrong length or characters). */
int token_parse(const char *password, char *id, unsigned char hash[TOKEN_HASH_LEN]);

/* True when id has a token id's shape (16 lowercase hex digits). */
bool token_id_valid(const char *id);

/* Reads 64 hex digits into hash. Returns 0, or -1 when malformed. */
int token_hash_from_hex(const char *hex, unsigned char hash[TOKEN_HASH_LEN]);

/* True when label is 1-TOKEN_LABEL_MAX bytes of UTF-8 without control
 * characters. */
bool token_label_valid(const char *label);

#endif
