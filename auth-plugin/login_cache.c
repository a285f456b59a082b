/* login_cache.c: cache of successful logins; see login_cache.h. */
#include "login_cache.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <uthash.h>

#include "plugin_alloc.h"

#define DIGEST_LEN 32

struct cache_entry {
	unsigned char digest[DIGEST_LEN];
	long expires;
	UT_hash_handle hh;
};

struct login_cache {
	unsigned char key[32];
	long ttl_s;
	size_t max_entries;
	struct cache_entry *entries; /* uthash, insertion order = age order */
};

struct login_cache *login_cache_new(long ttl_s, size_t max_entries)
{
	struct login_cache *cache = plugin_calloc(1, sizeof(*cache));

	if(!cache) return NULL;
	if(RAND_bytes(cache->key, sizeof(cache->key)) != 1){
		plugin_free(cache);
		return NULL;
	}
	cache->ttl_s = ttl_s;
	cache->max_entries = max_entries;
	return cache;
}

static int make_digest(const struct login_cache *cache, const char *user, const char *password,
		const char *stored_hash, unsigned char out[DIGEST_LEN])
{
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t out_len = 0;
	int rc = -1;

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if(!mac) goto out;
	ctx = EVP_MAC_CTX_new(mac);
	if(!ctx) goto out;
	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	/* NUL separators keep ("ab","c") and ("a","bc") apart. */
	if(!EVP_MAC_init(ctx, cache->key, sizeof(cache->key), params)
			|| !EVP_MAC_update(ctx, (const unsigned char *)user, strlen(user) + 1)
			|| !EVP_MAC_update(ctx, (const unsigned char *)password, strlen(password) + 1)
			|| !EVP_MAC_update(ctx, (const unsigned char *)stored_hash, strlen(stored_hash))
			|| !EVP_MAC_final(ctx, out, &out_len, DIGEST_LEN) || out_len != DIGEST_LEN){
		goto out;
	}
	rc = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

bool login_cache_hit(struct login_cache *cache, const char *user, const char *password,
		const char *stored_hash, long now)
{
	unsigned char digest[DIGEST_LEN];
	struct cache_entry *entry = NULL;
	bool hit = false;

	if(!cache || cache->ttl_s <= 0 || !user || !password || !stored_hash) return false;
	if(make_digest(cache, user, password, stored_hash, digest)) return false;
	HASH_FIND(hh, cache->entries, digest, DIGEST_LEN, entry);
	if(entry && entry->expires > now){
		hit = true;
	}else if(entry){
		HASH_DEL(cache->entries, entry);
		plugin_free(entry);
	}
	OPENSSL_cleanse(digest, sizeof(digest));
	return hit;
}

static void evict(struct login_cache *cache, long now)
{
	struct cache_entry *entry, *tmp;

	HASH_ITER(hh, cache->entries, entry, tmp){
		if(entry->expires <= now){
			HASH_DEL(cache->entries, entry);
			plugin_free(entry);
		}
	}
	while(HASH_COUNT(cache->entries) >= cache->max_entries && cache->entries){
		entry = cache->entries; /* the oldest */
		HASH_DEL(cache->entries, entry);
		plugin_free(entry);
	}
}

void login_cache_put(struct login_cache *cache, const char *user, const char *password,
		const char *stored_hash, long now)
{
	struct cache_entry *entry = NULL;
	unsigned char digest[DIGEST_LEN];
	unsigned int jitter_raw = 0;
	long jitter_span;

	if(!cache || cache->ttl_s <= 0 || cache->max_entries == 0) return;
	if(make_digest(cache, user, password, stored_hash, digest)) return;
	HASH_FIND(hh, cache->entries, digest, DIGEST_LEN, entry);
	if(!entry){
		if(HASH_COUNT(cache->entries) >= cache->max_entries) evict(cache, now);
		entry = plugin_calloc(1, sizeof(*entry));
		if(!entry) goto out;
		memcpy(entry->digest, digest, DIGEST_LEN);
		HASH_ADD(hh, cache->entries, digest, DIGEST_LEN, entry);
	}
	jitter_span = cache->ttl_s / 5; /* +-10% */
	RAND_bytes((unsigned char *)&jitter_raw, sizeof(jitter_raw));
	entry->expires = now + cache->ttl_s - cache->ttl_s / 10
		+ (jitter_span > 0 ? (long)(jitter_raw % (unsigned long)(jitter_span + 1)) : 0);
out:
	OPENSSL_cleanse(digest, sizeof(digest));
}

void login_cache_clear(struct login_cache *cache)
{
	struct cache_entry *entry, *tmp;

	if(!cache) return;
	HASH_ITER(hh, cache->entries, entry, tmp){
		HASH_DEL(cache->entries, entry);
		plugin_free(entry);
	}
}

size_t login_cache_size(const struct login_cache *cache)
{
	return cache ? HASH_COUNT(cache->entries) : 0;
}

void login_cache_free(struct login_cache *cache)
{
	if(!cache) return;
	login_cache_clear(cache);
	OPENSSL_cleanse(cache->key, sizeof(cache->key));
	plugin_free(cache);
}
