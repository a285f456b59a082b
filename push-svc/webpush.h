/* webpush.h: the cryptography of a Web Push message, composed from OpenSSL 3
 * EVP primitives (no primitive is written here):
 *   - base64url without padding (RFC 4648 section 5), the keys' wire form;
 *   - the subscription's keys checked: p256dh a P-256 point in uncompressed
 *     form (65 bytes), auth 16 bytes;
 *   - RFC 8291 message encryption: ECDH P-256 with a fresh key pair per
 *     message, HKDF-SHA-256 as the RFC lays out, one aes128gcm record
 *     (RFC 8188) with a random salt;
 *   - RFC 8292 VAPID: an ES256 JWT {aud, exp, sub} signed with the
 *     operator's P-256 key, and that key's public half for the "k=" part. */
#ifndef PUSH_WEBPUSH_H
#define PUSH_WEBPUSH_H

#include <stddef.h>

#include <openssl/evp.h>

#define WEBPUSH_P256DH_LEN 65
#define WEBPUSH_AUTH_LEN 16
/* The aes128gcm header: salt(16) rs(4) idlen(1) keyid(65). */
#define WEBPUSH_HEADER_LEN (16 + 4 + 1 + WEBPUSH_P256DH_LEN)
/* Overhead of one record: header, the 0x02 delimiter, the GCM tag. */
#define WEBPUSH_OVERHEAD (WEBPUSH_HEADER_LEN + 1 + 16)
/* Record size written in the header; a plaintext must fit one record. */
#define WEBPUSH_RECORD_SIZE 4096
#define WEBPUSH_PLAINTEXT_MAX (WEBPUSH_RECORD_SIZE - 17)

struct webpush_vapid;

/* Encodes len bytes as base64url without padding into out (outlen bytes,
 * at least 4 * ceil(len / 3) + 1). Returns the length written (without the
 * NUL), or -1 when out is too small. */
int webpush_b64url_encode(const unsigned char *in, size_t len, char *out, size_t outlen);

/* Decodes base64url (padding optional; '+' '/' refused) into out (outlen
 * bytes). Returns the number of bytes decoded, or -1 when in is not
 * base64url or does not fit. */
int webpush_b64url_decode(const char *in, unsigned char *out, size_t outlen);

/* Checks a subscription's keys as sent by a client (base64url): p256dh must
 * decode to a point on P-256 in uncompressed form, auth to 16 bytes. Returns
 * 0, or -1 with a reason for the client in why (whylen bytes). */
int webpush_keys_check(const char *p256dh_b64, const char *auth_b64, char *why, size_t whylen);

/* Encrypts plaintext (len <= WEBPUSH_PLAINTEXT_MAX) for the subscription
 * whose keys are p256dh_b64 and auth_b64 (base64url), per RFC 8291. On
 * success returns 0 with *out a malloc'ed body of *out_len bytes (the
 * caller frees it with free); -1 on bad keys or an OpenSSL failure. */
int webpush_encrypt(const char *p256dh_b64, const char *auth_b64, const void *plaintext, size_t len,
		unsigned char **out, size_t *out_len);

/* webpush_encrypt with the application server's P-256 key pair (as_key)
 * and the salt (16 bytes) given instead of fresh ones: for RFC 8291's test
 * vector (Appendix A) only; a real push must never reuse either. */
int webpush_encrypt_with(const char *p256dh_b64, const char *auth_b64, const void *plaintext, size_t len,
		EVP_PKEY *as_key, const unsigned char *salt, unsigned char **out, size_t *out_len);

/* Loads the VAPID key pair from a PEM file (a P-256 private key, as
 * `openssl ecparam -name prime256v1 -genkey` writes). subject is the
 * "sub" claim (a mailto: or https: URL), copied. Returns the key (free with
 * webpush_vapid_free), or NULL with a message in err. */
struct webpush_vapid *webpush_vapid_load(const char *pem_path, const char *subject, char *err, size_t errlen);

/* The public key, base64url of its uncompressed point (87 characters);
 * owned by v. */
const char *webpush_vapid_public(const struct webpush_vapid *v);

/* Writes the Authorization header value "vapid t=JWT, k=KEY" for a push to
 * endpoint (the JWT's aud is the endpoint's origin; exp is now_s +
 * lifetime_s, at most 24 h) into out (outlen bytes). JWTs are cached per
 * origin until half their lifetime is gone. Returns 0, or -1 when the
 * endpoint has no origin or signing fails. */
int webpush_vapid_header(struct webpush_vapid *v, const char *endpoint, long long now_s, long lifetime_s,
		char *out, size_t outlen);

/* The origin of an http(s) URL ("https://host[:port]", RFC 6454: host in
 * lower case, the scheme's default port left out) into out. Returns 0, or
 * -1 for another scheme, no host, user info, or too long. */
int webpush_origin(const char *endpoint, char *out, size_t outlen);

/* Frees v; NULL allowed. */
void webpush_vapid_free(struct webpush_vapid *v);

#endif
