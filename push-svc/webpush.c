/* webpush.c: RFC 8291 encryption and RFC 8292 VAPID from OpenSSL 3 EVP
 * calls; see webpush.h. */
#include "webpush.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#define SHA256_LEN 32
#define JWT_CACHE 16

struct jwt_entry {
	char origin[300];
	char header[1024];
	long long renew_at;
};

struct webpush_vapid {
	EVP_PKEY *key;
	char public_b64[128];
	char subject[256];
	struct jwt_entry cache[JWT_CACHE];
	unsigned next_slot;
};

int webpush_b64url_encode(const unsigned char *in, size_t len, char *out, size_t outlen)
{
	size_t need = 4 * ((len + 2) / 3) + 1;
	int n;

	if(outlen < need || len > 0x3fffffff) return -1;
	n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	while(n > 0 && out[n - 1] == '=') n--;
	out[n] = '\0';
	for(int i = 0; i < n; i++){
		if(out[i] == '+') out[i] = '-';
		else if(out[i] == '/') out[i] = '_';
	}
	return n;
}

int webpush_b64url_decode(const char *in, unsigned char *out, size_t outlen)
{
	size_t len = strlen(in), padded;
	char *std = NULL;
	unsigned char *raw = NULL;
	int n, pad, rc = -1;

	while(len > 0 && in[len - 1] == '=') len--;
	if(len % 4 == 1 || len > 4096) goto out;
	padded = (len + 3) / 4 * 4;
	pad = (int)(padded - len);
	std = malloc(padded + 1);
	raw = malloc(padded);
	if(!std || !raw) goto out;
	for(size_t i = 0; i < len; i++){
		char c = in[i];
		if(c == '-') c = '+';
		else if(c == '_') c = '/';
		else if(!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) goto out;
		std[i] = c;
	}
	memset(std + len, '=', (size_t)pad);
	std[padded] = '\0';
	n = EVP_DecodeBlock(raw, (const unsigned char *)std, (int)padded);
	if(n < 0) goto out;
	n -= pad;
	if(n < 0 || (size_t)n > outlen) goto out;
	memcpy(out, raw, (size_t)n);
	rc = n;
out:
	free(std);
	free(raw);
	return rc;
}

/* A P-256 public key from its uncompressed point; NULL when the point is
 * not on the curve. */
static EVP_PKEY *p256_public(const unsigned char *point, size_t len)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *check = NULL;
	EVP_PKEY *key = NULL;

	if(len != WEBPUSH_P256DH_LEN || point[0] != 0x04) goto out;
	bld = OSSL_PARAM_BLD_new();
	if(!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0)
			|| !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, len)){
		goto out;
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if(!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0
			|| EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0){
		goto out;
	}
	check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if(!check || EVP_PKEY_public_check(check) <= 0){
		EVP_PKEY_free(key);
		key = NULL;
	}
out:
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return key;
}

int webpush_keys_check(const char *p256dh_b64, const char *auth_b64, char *why, size_t whylen)
{
	unsigned char point[WEBPUSH_P256DH_LEN + 4], auth[WEBPUSH_AUTH_LEN + 4];
	EVP_PKEY *key = NULL;
	int n, rc = -1;

	n = webpush_b64url_decode(p256dh_b64, point, sizeof(point));
	if(n != WEBPUSH_P256DH_LEN || !(key = p256_public(point, (size_t)n))){
		snprintf(why, whylen, "keys.p256dh must be base64url of a P-256 point in uncompressed form (65 bytes)");
		goto out;
	}
	n = webpush_b64url_decode(auth_b64, auth, sizeof(auth));
	if(n != WEBPUSH_AUTH_LEN){
		snprintf(why, whylen, "keys.auth must be base64url of 16 bytes");
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(key);
	return rc;
}

/* HKDF-SHA-256 (RFC 5869): extract with salt from ikm, expand with info to
 * out_len bytes. Returns 0 or -1. */
static int hkdf(const unsigned char *salt, size_t salt_len, const unsigned char *ikm, size_t ikm_len,
		const unsigned char *info, size_t info_len, unsigned char *out, size_t out_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	int rc = -1;

	if(!ctx || EVP_PKEY_derive_init(ctx) <= 0
			|| EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) <= 0
			|| EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt, (int)salt_len) <= 0
			|| EVP_PKEY_CTX_set1_hkdf_key(ctx, ikm, (int)ikm_len) <= 0
			|| EVP_PKEY_CTX_add1_hkdf_info(ctx, info, (int)info_len) <= 0
			|| EVP_PKEY_derive(ctx, out, &out_len) <= 0){
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

int webpush_encrypt_with(const char *p256dh_b64, const char *auth_b64, const void *plaintext, size_t len,
		EVP_PKEY *as, const unsigned char *salt_in, unsigned char **out, size_t *out_len)
{
	static const char key_label[] = "WebPush: info";   /* followed by 0x00 */
	static const char cek_label[] = "Content-Encoding: aes128gcm";
	static const char nonce_label[] = "Content-Encoding: nonce";
	unsigned char ua_public[WEBPUSH_P256DH_LEN + 4], auth[WEBPUSH_AUTH_LEN + 4];
	unsigned char as_public[WEBPUSH_P256DH_LEN];
	unsigned char secret[32], ikm[SHA256_LEN], cek[16], nonce[12], salt[16];
	unsigned char key_info[sizeof(key_label) + 2 * WEBPUSH_P256DH_LEN];
	unsigned char *body = NULL, *p;
	EVP_PKEY *ua = NULL;
	EVP_PKEY_CTX *dctx = NULL;
	EVP_CIPHER_CTX *cctx = NULL;
	size_t secret_len = sizeof(secret), pub_len = 0, total;
	int n, clen, rc = -1;
	unsigned char delimiter = 0x02;

	*out = NULL;
	if(len > WEBPUSH_PLAINTEXT_MAX) goto out;
	n = webpush_b64url_decode(p256dh_b64, ua_public, sizeof(ua_public));
	if(n != WEBPUSH_P256DH_LEN || !(ua = p256_public(ua_public, (size_t)n))) goto out;
	if(webpush_b64url_decode(auth_b64, auth, sizeof(auth)) != WEBPUSH_AUTH_LEN) goto out;
	if(!as || !EVP_PKEY_get_octet_string_param(as, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, as_public,
			sizeof(as_public), &pub_len) || pub_len != WEBPUSH_P256DH_LEN){
		goto out;
	}
	dctx = EVP_PKEY_CTX_new(as, NULL);
	if(!dctx || EVP_PKEY_derive_init(dctx) <= 0 || EVP_PKEY_derive_set_peer(dctx, ua) <= 0
			|| EVP_PKEY_derive(dctx, secret, &secret_len) <= 0 || secret_len != 32){
		goto out;
	}
	/* RFC 8291 section 3.4: IKM = HKDF(auth, ecdh_secret, key_info, 32). */
	memcpy(key_info, key_label, sizeof(key_label)); /* with its NUL: the 0x00 */
	memcpy(key_info + sizeof(key_label), ua_public, WEBPUSH_P256DH_LEN);
	memcpy(key_info + sizeof(key_label) + WEBPUSH_P256DH_LEN, as_public, WEBPUSH_P256DH_LEN);
	if(hkdf(auth, WEBPUSH_AUTH_LEN, secret, secret_len, key_info, sizeof(key_info), ikm, sizeof(ikm))) goto out;
	/* RFC 8188 section 2.2 and 2.3: CEK and nonce from a random salt. */
	memcpy(salt, salt_in, sizeof(salt));
	if(hkdf(salt, sizeof(salt), ikm, sizeof(ikm), (const unsigned char *)cek_label, sizeof(cek_label),
				cek, sizeof(cek))
			|| hkdf(salt, sizeof(salt), ikm, sizeof(ikm), (const unsigned char *)nonce_label, sizeof(nonce_label),
				nonce, sizeof(nonce))){
		goto out;
	}
	total = WEBPUSH_HEADER_LEN + len + 1 + 16;
	body = malloc(total);
	if(!body) goto out;
	p = body;
	memcpy(p, salt, 16);
	p += 16;
	p[0] = (WEBPUSH_RECORD_SIZE >> 24) & 0xff;
	p[1] = (WEBPUSH_RECORD_SIZE >> 16) & 0xff;
	p[2] = (WEBPUSH_RECORD_SIZE >> 8) & 0xff;
	p[3] = WEBPUSH_RECORD_SIZE & 0xff;
	p += 4;
	*p++ = WEBPUSH_P256DH_LEN;
	memcpy(p, as_public, WEBPUSH_P256DH_LEN);
	p += WEBPUSH_P256DH_LEN;
	/* One record, the last: plaintext || 0x02 (RFC 8188 section 2). */
	cctx = EVP_CIPHER_CTX_new();
	if(!cctx || EVP_EncryptInit_ex(cctx, EVP_aes_128_gcm(), NULL, cek, nonce) != 1
			|| EVP_EncryptUpdate(cctx, p, &clen, plaintext, (int)len) != 1){
		goto out;
	}
	p += clen;
	if(EVP_EncryptUpdate(cctx, p, &clen, &delimiter, 1) != 1) goto out;
	p += clen;
	if(EVP_EncryptFinal_ex(cctx, p, &clen) != 1) goto out;
	p += clen;
	if(EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_GCM_GET_TAG, 16, p) != 1) goto out;
	p += 16;
	*out_len = (size_t)(p - body);
	*out = body;
	body = NULL;
	rc = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(ikm, sizeof(ikm));
	OPENSSL_cleanse(cek, sizeof(cek));
	free(body);
	EVP_CIPHER_CTX_free(cctx);
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_free(ua);
	return rc;
}

int webpush_encrypt(const char *p256dh_b64, const char *auth_b64, const void *plaintext, size_t len,
		unsigned char **out, size_t *out_len)
{
	/* A key pair and a salt of its own for every message (RFC 8291
	 * section 3.1, RFC 8188 section 2.1). */
	EVP_PKEY *as = EVP_EC_gen("P-256");
	unsigned char salt[16];
	int rc = -1;

	*out = NULL;
	if(!as || RAND_bytes(salt, sizeof(salt)) != 1) goto out;
	rc = webpush_encrypt_with(p256dh_b64, auth_b64, plaintext, len, as, salt, out, out_len);
out:
	EVP_PKEY_free(as);
	return rc;
}

struct webpush_vapid *webpush_vapid_load(const char *pem_path, const char *subject, char *err, size_t errlen)
{
	struct webpush_vapid *v = calloc(1, sizeof(*v));
	unsigned char point[WEBPUSH_P256DH_LEN];
	char group[32];
	size_t len = 0;
	FILE *fp = NULL;

	if(!v){
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if(!subject || (strncmp(subject, "mailto:", 7) && strncmp(subject, "https://", 8)) || strlen(subject) >= sizeof(v->subject)){
		snprintf(err, errlen, "vapid_subject must be a mailto: or https: URL (RFC 8292)");
		goto fail;
	}
	snprintf(v->subject, sizeof(v->subject), "%s", subject);
	fp = fopen(pem_path, "r");
	if(!fp){
		snprintf(err, errlen, "cannot open the VAPID key %s", pem_path);
		goto fail;
	}
	v->key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if(!v->key || !EVP_PKEY_is_a(v->key, "EC")
			|| !EVP_PKEY_get_utf8_string_param(v->key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL)
			|| strcmp(group, "prime256v1")){
		snprintf(err, errlen, "%s is not a P-256 private key in PEM", pem_path);
		goto fail;
	}
	EVP_PKEY_set_utf8_string_param(v->key, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed");
	if(!EVP_PKEY_get_octet_string_param(v->key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof(point), &len)
			|| len != sizeof(point)
			|| webpush_b64url_encode(point, len, v->public_b64, sizeof(v->public_b64)) < 0){
		snprintf(err, errlen, "cannot read the public half of %s", pem_path);
		goto fail;
	}
	return v;
fail:
	webpush_vapid_free(v);
	return NULL;
}

const char *webpush_vapid_public(const struct webpush_vapid *v)
{
	return v->public_b64;
}

int webpush_origin(const char *endpoint, char *out, size_t outlen)
{
	const char *scheme, *host, *default_port;
	size_t n, host_len, scheme_len;

	if(!strncmp(endpoint, "https://", 8)){
		scheme = "https://";
		default_port = ":443";
	}else if(!strncmp(endpoint, "http://", 7)){
		scheme = "http://";
		default_port = ":80";
	}else{
		return -1;
	}
	scheme_len = strlen(scheme);
	host = endpoint + scheme_len;
	n = strcspn(host, "/?#");
	/* No user info: the origin is scheme://host[:port] (RFC 6454), with
	 * the scheme's default port left out and the host in lower case. */
	if(n == 0 || memchr(host, '@', n)) return -1;
	host_len = n;
	if(n > strlen(default_port) && !strncmp(host + n - strlen(default_port), default_port, strlen(default_port))){
		host_len = n - strlen(default_port);
	}
	if(scheme_len + host_len >= outlen) return -1;
	memcpy(out, scheme, scheme_len);
	for(size_t i = 0; i < host_len; i++){
		char c = host[i];
		out[scheme_len + i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	out[scheme_len + host_len] = '\0';
	return 0;
}

/* Signs "header.claims" with ES256 and writes the JWT into out. */
static int sign_jwt(struct webpush_vapid *v, const char *origin, long long exp, char *out, size_t outlen)
{
	static const char header[] = "{\"typ\":\"JWT\",\"alg\":\"ES256\"}";
	char claims[600], header_b64[64], claims_b64[820], signing[900], sig_b64[96];
	unsigned char der[80], raw[64];
	const unsigned char *dp = der;
	size_t der_len = sizeof(der);
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	int n, rc = -1;

	n = snprintf(claims, sizeof(claims), "{\"aud\":\"%s\",\"exp\":%lld,\"sub\":\"%s\"}", origin, exp, v->subject);
	if(n < 0 || (size_t)n >= sizeof(claims)) goto out;
	if(webpush_b64url_encode((const unsigned char *)header, strlen(header), header_b64, sizeof(header_b64)) < 0
			|| webpush_b64url_encode((const unsigned char *)claims, (size_t)n, claims_b64, sizeof(claims_b64)) < 0){
		goto out;
	}
	n = snprintf(signing, sizeof(signing), "%s.%s", header_b64, claims_b64);
	if(n < 0 || (size_t)n >= sizeof(signing)) goto out;
	md = EVP_MD_CTX_new();
	if(!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, v->key) != 1
			|| EVP_DigestSign(md, der, &der_len, (const unsigned char *)signing, (size_t)n) != 1){
		goto out;
	}
	/* JWS wants r || s, 32 bytes each (RFC 7518 section 3.4), not DER. */
	sig = d2i_ECDSA_SIG(NULL, &dp, (long)der_len);
	if(!sig) goto out;
	ECDSA_SIG_get0(sig, &r, &s);
	if(BN_bn2binpad(r, raw, 32) != 32 || BN_bn2binpad(s, raw + 32, 32) != 32) goto out;
	if(webpush_b64url_encode(raw, sizeof(raw), sig_b64, sizeof(sig_b64)) < 0) goto out;
	n = snprintf(out, outlen, "%s.%s", signing, sig_b64);
	if(n < 0 || (size_t)n >= outlen) goto out;
	rc = 0;
out:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	return rc;
}

int webpush_vapid_header(struct webpush_vapid *v, const char *endpoint, long long now_s, long lifetime_s,
		char *out, size_t outlen)
{
	char origin[300], jwt[900];
	struct jwt_entry *e = NULL;
	int n;

	if(webpush_origin(endpoint, origin, sizeof(origin))) return -1;
	if(lifetime_s <= 0 || lifetime_s > 86400) lifetime_s = 86400;
	for(int i = 0; i < JWT_CACHE; i++){
		if(!strcmp(v->cache[i].origin, origin) && v->cache[i].renew_at > now_s){
			e = &v->cache[i];
			break;
		}
	}
	if(!e){
		if(sign_jwt(v, origin, now_s + lifetime_s, jwt, sizeof(jwt))) return -1;
		e = &v->cache[v->next_slot++ % JWT_CACHE];
		snprintf(e->origin, sizeof(e->origin), "%s", origin);
		n = snprintf(e->header, sizeof(e->header), "vapid t=%s, k=%s", jwt, v->public_b64);
		if(n < 0 || (size_t)n >= sizeof(e->header)){
			e->origin[0] = '\0';
			return -1;
		}
		e->renew_at = now_s + lifetime_s / 2;
	}
	n = snprintf(out, outlen, "%s", e->header);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

void webpush_vapid_free(struct webpush_vapid *v)
{
	if(!v) return;
	EVP_PKEY_free(v->key);
	free(v);
}
