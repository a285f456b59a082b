/* backend_http.c: the "http" credential back-end (the EMQX HTTP auth
 * contract), on libcurl:
 *   plugin_opt_http_url http://127.0.0.1:8080/auth      (required)
 *   plugin_opt_http_timeout_ms 1000                      (optional, 50-10000)
 * POSTs {"username","password","clientid","peer"} as JSON; a 2xx answer
 * {"result":"allow"|"deny"|"ignore","is_superuser":bool} allows, denies or
 * defers to the next back-end. Anything else (refused connection, timeout,
 * other status, a body that is not that JSON) is an error, which refuses the
 * login: a down endpoint never lets anyone in. One curl handle is kept, so
 * the connection is reused (keep-alive). The call blocks the broker thread
 * for at most the timeout; successful answers go to the login cache, so a
 * reconnect storm of known users does not reach the endpoint. */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "plugin_alloc.h"

#define RESPONSE_MAX 4096
/* Stand-ins for a stored hash in login-cache keys: the cache tells a user
 * and an admin answer apart, and a changed URL is a new key. */
#define CACHE_TAG_USER "http-user:"
#define CACHE_TAG_ADMIN "http-admin:"

struct http_state {
	CURL *curl;
	struct curl_slist *headers;
	char url[2048];
	char tag_user[2100];
	char tag_admin[2100];
	long timeout_ms;
};

struct response {
	char body[RESPONSE_MAX + 1];
	size_t len;
	int overflow;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct response *resp = userdata;
	size_t n = size * nmemb;

	if(resp->len + n > RESPONSE_MAX){
		resp->overflow = 1;
		return 0; /* makes curl fail the transfer */
	}
	memcpy(resp->body + resp->len, data, n);
	resp->len += n;
	resp->body[resp->len] = '\0';
	return n;
}

static int http_init(void **state, struct mosquitto_opt *opts, int opt_count, char *err, size_t errlen)
{
	struct http_state *hs = NULL;
	const char *url = backend_opt(opts, opt_count, "http_url");
	const char *timeout = backend_opt(opts, opt_count, "http_timeout_ms");
	int rc = -1;

	*state = NULL;
	if(!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))){
		snprintf(err, errlen, "the http back-end needs plugin_opt_http_url (http:// or https://)");
		goto out;
	}
	hs = plugin_calloc(1, sizeof(*hs));
	if(!hs || strlen(url) >= sizeof(hs->url)){
		snprintf(err, errlen, hs ? "plugin_opt_http_url is too long" : "out of memory");
		goto out;
	}
	snprintf(hs->url, sizeof(hs->url), "%s", url);
	snprintf(hs->tag_user, sizeof(hs->tag_user), "%s%s", CACHE_TAG_USER, url);
	snprintf(hs->tag_admin, sizeof(hs->tag_admin), "%s%s", CACHE_TAG_ADMIN, url);
	hs->timeout_ms = 1000;
	if(timeout){
		char *end = NULL;
		hs->timeout_ms = strtol(timeout, &end, 10);
		if(!end || *end || hs->timeout_ms < 50 || hs->timeout_ms > 10000){
			snprintf(err, errlen, "plugin_opt_http_timeout_ms must be 50-10000");
			goto out;
		}
	}
	if(curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(hs->curl = curl_easy_init())){
		snprintf(err, errlen, "libcurl could not start");
		goto out;
	}
	hs->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if(!hs->headers){
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	*state = hs;
	hs = NULL;
	rc = 0;
out:
	if(hs){
		if(hs->curl) curl_easy_cleanup(hs->curl);
		plugin_free(hs);
	}
	return rc;
}

static char *request_body(const struct login *login)
{
	cJSON *req = cJSON_CreateObject();
	char *text = NULL;

	if(!req) return NULL;
	if(cJSON_AddStringToObject(req, "username", login->username)
			&& cJSON_AddStringToObject(req, "password", login->password ? login->password : "")
			&& cJSON_AddStringToObject(req, "clientid", login->client_id ? login->client_id : "")
			&& cJSON_AddStringToObject(req, "peer", login->address ? login->address : "")){
		text = cJSON_PrintUnformatted(req);
	}
	cJSON_Delete(req);
	return text;
}

static enum backend_answer parse_answer(const struct response *resp, int *superuser)
{
	cJSON *obj = cJSON_ParseWithLength(resp->body, resp->len);
	const cJSON *result, *super;
	enum backend_answer answer = BACKEND_ERROR;

	if(!cJSON_IsObject(obj)) goto out;
	result = cJSON_GetObjectItemCaseSensitive(obj, "result");
	super = cJSON_GetObjectItemCaseSensitive(obj, "is_superuser");
	*superuser = cJSON_IsTrue(super);
	if(!cJSON_IsString(result)) goto out;
	if(!strcmp(result->valuestring, "allow")) answer = BACKEND_ALLOW;
	else if(!strcmp(result->valuestring, "deny")) answer = BACKEND_DENY;
	else if(!strcmp(result->valuestring, "ignore")) answer = BACKEND_DEFER;
out:
	cJSON_Delete(obj);
	return answer;
}

/* The endpoint's users are not known in advance: a login it allowed
 * recently is answered from the cache, anything else is left to the chain. */
static enum backend_answer http_cached(void *state, const struct backend_env *env,
		const struct login *login, enum user_role *role)
{
	struct http_state *hs = state;

	if(!login->password) return BACKEND_DEFER;
	if(login_cache_hit(env->cache, login->username, login->password, hs->tag_admin, env->now)){
		*role = ROLE_ADMIN;
		return BACKEND_ALLOW;
	}
	if(login_cache_hit(env->cache, login->username, login->password, hs->tag_user, env->now)){
		*role = ROLE_USER;
		return BACKEND_ALLOW;
	}
	return BACKEND_DEFER;
}

static enum backend_answer http_check(void *state, const struct backend_env *env,
		const struct login *login, enum user_role *role)
{
	struct http_state *hs = state;
	struct response resp;
	char *body = NULL;
	long status = 0;
	int superuser = 0;
	CURLcode code;
	enum backend_answer answer = BACKEND_ERROR;

	if(!login->password) return BACKEND_DENY;
	if(login_cache_hit(env->cache, login->username, login->password, hs->tag_admin, env->now)){
		*role = ROLE_ADMIN;
		return BACKEND_ALLOW;
	}
	if(login_cache_hit(env->cache, login->username, login->password, hs->tag_user, env->now)){
		*role = ROLE_USER;
		return BACKEND_ALLOW;
	}
	memset(&resp, 0, sizeof(resp));
	body = request_body(login);
	if(!body) goto out;
	curl_easy_setopt(hs->curl, CURLOPT_URL, hs->url);
	curl_easy_setopt(hs->curl, CURLOPT_HTTPHEADER, hs->headers);
	curl_easy_setopt(hs->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(hs->curl, CURLOPT_TIMEOUT_MS, hs->timeout_ms);
	curl_easy_setopt(hs->curl, CURLOPT_CONNECTTIMEOUT_MS, hs->timeout_ms);
	curl_easy_setopt(hs->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(hs->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(hs->curl, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(hs->curl, CURLOPT_FOLLOWLOCATION, 0L);
	code = curl_easy_perform(hs->curl);
	if(code != CURLE_OK){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "chat-auth: http back-end: %s: %s", hs->url, curl_easy_strerror(code));
		goto out;
	}
	curl_easy_getinfo(hs->curl, CURLINFO_RESPONSE_CODE, &status);
	if(status < 200 || status > 299){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "chat-auth: http back-end: %s answered HTTP %ld", hs->url, status);
		goto out;
	}
	answer = parse_answer(&resp, &superuser);
	if(answer == BACKEND_ERROR){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "chat-auth: http back-end: %s answered something other than {\"result\": allow|deny|ignore}", hs->url);
		goto out;
	}
	if(answer == BACKEND_ALLOW){
		*role = superuser ? ROLE_ADMIN : ROLE_USER;
		login_cache_put(env->cache, login->username, login->password,
				superuser ? hs->tag_admin : hs->tag_user, env->now);
	}
out:
	if(body){
		memset(body, 0, strlen(body)); /* it held the password */
		cJSON_free(body);
	}
	curl_easy_setopt(hs->curl, CURLOPT_POSTFIELDS, NULL);
	return answer;
}

static void http_cleanup(void *state)
{
	struct http_state *hs = state;

	if(!hs) return;
	curl_slist_free_all(hs->headers);
	curl_easy_cleanup(hs->curl);
	plugin_free(hs);
	curl_global_cleanup();
}

const struct credential_backend backend_http = {
	.name = "http",
	.init = http_init,
	.check = http_check,
	.cached = http_cached,
	.cleanup = http_cleanup,
};
