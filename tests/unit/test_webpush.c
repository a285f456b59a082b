/* test_webpush.c: push-svc's Web Push cryptography (push-svc/webpush.c):
 * RFC 8291's own test vector, base64url, and the checks on a
 * subscription's keys and endpoint. */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "../../push-svc/webpush.h"
#include "test.h"

/* RFC 8291 Appendix A. */
static const char rfc_plaintext[] = "When I grow up, I want to be a watermelon";
static const char rfc_as_private[] = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
static const char rfc_as_public[] =
	"BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
static const char rfc_ua_public[] =
	"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
static const char rfc_auth[] = "BTBZMqHH6r4Tts7J_aSIgg";
static const char rfc_salt[] = "DGv6ra1nlYgDCS1FRnbzlw";
static const char rfc_body[] =
	"DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A"
	"_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

/* The application server's key pair of the vector as an EVP_PKEY. */
static EVP_PKEY *rfc_as_key(void)
{
	unsigned char priv[32], pub[65];
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *key = NULL;
	BIGNUM *d = NULL;

	if(webpush_b64url_decode(rfc_as_private, priv, sizeof(priv)) != 32
			|| webpush_b64url_decode(rfc_as_public, pub, sizeof(pub)) != 65) goto out;
	d = BN_bin2bn(priv, 32, NULL);
	if(!bld || !ctx || !d || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0)
			|| !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d)
			|| !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub))
			|| !(params = OSSL_PARAM_BLD_to_param(bld)) || EVP_PKEY_fromdata_init(ctx) <= 0
			|| EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) <= 0){
		key = NULL;
	}
out:
	BN_free(d);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static void test_rfc8291_vector(void)
{
	EVP_PKEY *as = rfc_as_key();
	unsigned char salt[16], *body = NULL;
	char encoded[512];
	size_t len = 0;

	if(!CHECK(as != NULL)) return;
	CHECK_EQ(webpush_b64url_decode(rfc_salt, salt, sizeof(salt)), 16);
	if(CHECK(webpush_encrypt_with(rfc_ua_public, rfc_auth, rfc_plaintext, strlen(rfc_plaintext), as, salt,
			&body, &len) == 0)){
		CHECK(webpush_b64url_encode(body, len, encoded, sizeof(encoded)) > 0);
		CHECK_STR(encoded, rfc_body);
	}
	free(body);
	EVP_PKEY_free(as);
}

static void test_encrypt_fresh_each_time(void)
{
	unsigned char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;

	CHECK(webpush_encrypt(rfc_ua_public, rfc_auth, "hi", 2, &a, &alen) == 0);
	CHECK(webpush_encrypt(rfc_ua_public, rfc_auth, "hi", 2, &b, &blen) == 0);
	CHECK_EQ(alen, WEBPUSH_OVERHEAD + 2);
	/* A different salt and key pair: nothing repeats. */
	CHECK(a && b && memcmp(a, b, 16) != 0 && memcmp(a + 21, b + 21, 65) != 0);
	free(a);
	free(b);
	CHECK(webpush_encrypt("AAAA", rfc_auth, "hi", 2, &a, &alen) == -1 && a == NULL);
}

static void test_b64url(void)
{
	unsigned char out[8];
	char text[16];

	CHECK_EQ(webpush_b64url_encode((const unsigned char *)"\xfb\xff", 2, text, sizeof(text)), 3);
	CHECK_STR(text, "-_8");
	CHECK_EQ(webpush_b64url_decode("-_8", out, sizeof(out)), 2);
	CHECK(out[0] == 0xfb && out[1] == 0xff);
	CHECK_EQ(webpush_b64url_decode("-_8=", out, sizeof(out)), 2);
	CHECK_EQ(webpush_b64url_decode("+/8", out, sizeof(out)), -1);   /* standard alphabet */
	CHECK_EQ(webpush_b64url_decode("A", out, sizeof(out)), -1);     /* no whole byte */
	CHECK_EQ(webpush_b64url_decode("AAAAAAAAAAAA", out, sizeof(out)), -1); /* 9 bytes: too big */
	CHECK_EQ(webpush_b64url_encode((const unsigned char *)"abc", 3, text, 4), -1);
}

static void test_keys_check(void)
{
	char why[160], off_curve[100];
	unsigned char point[65];

	CHECK_EQ(webpush_keys_check(rfc_ua_public, rfc_auth, why, sizeof(why)), 0);
	CHECK_EQ(webpush_keys_check(rfc_ua_public, "BTBZMqHH6r4Tts7J_aSI", why, sizeof(why)), -1);
	CHECK(strstr(why, "auth") != NULL);
	CHECK_EQ(webpush_keys_check(rfc_as_private, rfc_auth, why, sizeof(why)), -1); /* 32 bytes */
	webpush_b64url_decode(rfc_ua_public, point, sizeof(point));
	point[64] ^= 1; /* off the curve */
	webpush_b64url_encode(point, sizeof(point), off_curve, sizeof(off_curve));
	CHECK_EQ(webpush_keys_check(off_curve, rfc_auth, why, sizeof(why)), -1);
	CHECK(strstr(why, "p256dh") != NULL);
}

static void test_origin(void)
{
	char origin[64];

	CHECK_EQ(webpush_origin("https://push.example.net:8443/wpush/v2/abc?x=1", origin, sizeof(origin)), 0);
	CHECK_STR(origin, "https://push.example.net:8443");
	CHECK_EQ(webpush_origin("http://127.0.0.1:9/x", origin, sizeof(origin)), 0);
	CHECK_STR(origin, "http://127.0.0.1:9");
	CHECK_EQ(webpush_origin("https://Push.Example.NET:443/x", origin, sizeof(origin)), 0);
	CHECK_STR(origin, "https://push.example.net");
	CHECK_EQ(webpush_origin("http://localhost:80", origin, sizeof(origin)), 0);
	CHECK_STR(origin, "http://localhost");
	CHECK_EQ(webpush_origin("https://user@push.example/x", origin, sizeof(origin)), -1);
	CHECK_EQ(webpush_origin("https:///x", origin, sizeof(origin)), -1);
	CHECK_EQ(webpush_origin("ftp://a/b", origin, sizeof(origin)), -1);
}

static const struct test_case cases[] = {
	TEST_ENTRY(test_rfc8291_vector),
	TEST_ENTRY(test_encrypt_fresh_each_time),
	TEST_ENTRY(test_b64url),
	TEST_ENTRY(test_keys_check),
	TEST_ENTRY(test_origin),
};

const struct test_suite webpush_suite = { "webpush", cases, TEST_COUNT(cases) };
