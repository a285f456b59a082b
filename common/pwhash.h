/* pwhash.h: PBKDF2-HMAC-SHA512 password hashes in mosquitto_passwd's "$7$"
 * format, so one parser reads both our users table and a password file:
 *   $7$ITERATIONS$BASE64(12-byte salt)$BASE64(64-byte derived key)
 * Built on OpenSSL (PKCS5_PBKDF2_HMAC, RAND_bytes, CRYPTO_memcmp). */
#ifndef CHAT_PWHASH_H
#define CHAT_PWHASH_H

#include <stddef.h>

#define PWHASH_SALT_LEN 12
#define PWHASH_KEY_LEN 64
#define PWHASH_MAX_LEN 160
#define PWHASH_ITER_MIN 1
#define PWHASH_ITER_MAX 10000000
/* Default for new hashes: about 40 ms of one core here. Logins are checked on
 * the broker's only thread, so this trades brute-force cost against how long
 * one login stalls the broker; see docs/ARCHITECTURE.md. */
#define PWHASH_ITER_DEFAULT 100000

/* Hashes password with a fresh random salt and the given iteration count,
 * writing a NUL-terminated "$7$..." string into out (outlen >= PWHASH_MAX_LEN).
 * Returns 0, or -1 on bad arguments or when OpenSSL fails. */
int pwhash_create(const char *password, long iterations, char *out, size_t outlen);

/* Same as pwhash_create with a caller-chosen salt; for fixed test vectors. */
int pwhash_create_with_salt(const char *password, long iterations,
		const unsigned char salt[PWHASH_SALT_LEN], char *out, size_t outlen);

/* Checks password against a stored hash in constant time: "$7$" (above) or
 * mosquitto_passwd's older "$6$BASE64(12-byte salt)$BASE64(SHA512(password
 * || salt))", which is read but never written (it is a single fast hash).
 * Returns 1 when it matches, 0 when it does not, -1 when stored is malformed
 * (an error: callers must deny, never allow). */
int pwhash_verify(const char *password, const char *stored);

#endif
