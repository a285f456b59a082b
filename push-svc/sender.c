/* sender.c: the libcurl multi thread; see sender.h. */
#include "sender.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>


/* A request in curl's hands; listed (by the thread only) so that
 * sender_free can release what is still in flight. */
struct transfer {
	struct transfer *prev, *next;
	struct sender_request *req;
	struct curl_slist *headers;
	CURL *easy;
};

struct sender {
	CURLM *multi;
	pthread_t thread;
	bool started;
	atomic_bool stopping;
	pthread_mutex_t lock;
	struct sender_request *incoming, *done;  /* guarded by lock */
	long in_flight;                          /* guarded by lock */
	struct transfer *transfers;              /* the thread's */
	long timeout_ms;
	int allow_http;
};

static size_t discard_body(char *ptr, size_t size, size_t n, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * n;
}

/* Reads Retry-After when it is a number of seconds (an HTTP date is taken
 * as absent: the caller's backoff applies). */
static size_t read_header(char *buf, size_t size, size_t n, void *ud)
{
	struct sender_request *req = ud;
	size_t len = size * n;
	char value[32];

	if(len > 12 && !strncasecmp(buf, "Retry-After:", 12)){
		size_t vlen = len - 12 < sizeof(value) - 1 ? len - 12 : sizeof(value) - 1;
		char *end;
		long secs;

		memcpy(value, buf + 12, vlen);
		value[vlen] = '\0';
		secs = strtol(value, &end, 10);
		while(*end == ' ' || *end == '\r' || *end == '\n') end++;
		if(end != value && *end == '\0' && secs >= 0) req->retry_after_s = secs;
	}
	return len;
}

/* Hands req back to the service thread with its outcome. */
static void finish(struct sender *s, struct sender_request *req, long status, const char *error)
{
	struct sender_request **tail;

	req->status = status;
	if(error) snprintf(req->error, sizeof(req->error), "%s", error);
	pthread_mutex_lock(&s->lock);
	/* Keep submission order among finished requests. */
	for(tail = &s->done; *tail; tail = &(*tail)->next);
	req->next = NULL;
	*tail = req;
	pthread_mutex_unlock(&s->lock);
}

/* Unlists and frees a transfer (its easy handle already cleaned up). */
static void transfer_free(struct sender *s, struct transfer *t)
{
	if(t->prev) t->prev->next = t->next;
	else if(s->transfers == t) s->transfers = t->next;
	if(t->next) t->next->prev = t->prev;
	curl_slist_free_all(t->headers);
	free(t);
}

static void start(struct sender *s, struct sender_request *req)
{
	struct transfer *t = calloc(1, sizeof(*t));
	CURL *easy = curl_easy_init();
	char line[1200];

	req->retry_after_s = -1;
	if(!t || !easy){
		free(t);
		curl_easy_cleanup(easy);
		finish(s, req, 0, "out of memory");
		return;
	}
	t->req = req;
	snprintf(line, sizeof(line), "Authorization: %s", req->authorization);
	t->headers = curl_slist_append(t->headers, line);
	t->headers = curl_slist_append(t->headers, "Content-Encoding: aes128gcm");
	t->headers = curl_slist_append(t->headers, "Content-Type: application/octet-stream");
	snprintf(line, sizeof(line), "TTL: %ld", req->ttl_s);
	t->headers = curl_slist_append(t->headers, line);
	t->headers = curl_slist_append(t->headers, req->urgent ? "Urgency: high" : "Urgency: normal");
	snprintf(line, sizeof(line), "Topic: %s", req->topic);
	t->headers = curl_slist_append(t->headers, line);
	t->headers = curl_slist_append(t->headers, "Expect:");
	curl_easy_setopt(easy, CURLOPT_URL, req->url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, s->allow_http ? "http,https" : "https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, s->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(easy, CURLOPT_POST, 1L);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, read_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, req);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "chat-push-svc/1");
	if(!t->headers || curl_multi_add_handle(s->multi, easy) != CURLM_OK){
		curl_easy_cleanup(easy);
		curl_slist_free_all(t->headers);
		free(t);
		finish(s, req, 0, "cannot start the request");
		return;
	}
	t->easy = easy;
	t->next = s->transfers;
	if(s->transfers) s->transfers->prev = t;
	s->transfers = t;
}

static void *run(void *arg)
{
	struct sender *s = arg;

	while(!atomic_load(&s->stopping)){
		struct sender_request *batch;
		CURLMsg *msg;
		int running, left;

		pthread_mutex_lock(&s->lock);
		batch = s->incoming;
		s->incoming = NULL;
		pthread_mutex_unlock(&s->lock);
		while(batch){
			struct sender_request *next = batch->next;
			start(s, batch);
			batch = next;
		}
		curl_multi_perform(s->multi, &running);
		while((msg = curl_multi_info_read(s->multi, &left))){
			struct transfer *t = NULL;
			CURL *easy = msg->easy_handle;
			CURLcode result = msg->data.result;
			long status = 0;

			/* msg lives in the easy handle: read it all before cleanup. */
			if(msg->msg != CURLMSG_DONE) continue;
			curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
			if(result == CURLE_OK) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
			curl_multi_remove_handle(s->multi, easy);
			curl_easy_cleanup(easy);
			finish(s, t->req, status, result == CURLE_OK ? NULL : curl_easy_strerror(result));
			transfer_free(s, t);
		}
		curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
	}
	return NULL;
}

struct sender *sender_new(long timeout_ms, int allow_http, char *err, size_t errlen)
{
	struct sender *s = calloc(1, sizeof(*s));

	if(!s){
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	atomic_init(&s->stopping, false);
	s->timeout_ms = timeout_ms;
	s->allow_http = allow_http;
	if(curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(s->multi = curl_multi_init())){
		snprintf(err, errlen, "libcurl did not initialise");
		goto fail;
	}
	if(pthread_create(&s->thread, NULL, run, s)){
		snprintf(err, errlen, "cannot start the sender thread");
		goto fail;
	}
	s->started = true;
	return s;
fail:
	sender_free(s);
	return NULL;
}

void sender_submit(struct sender *s, struct sender_request *req)
{
	struct sender_request **tail;

	req->next = NULL;
	pthread_mutex_lock(&s->lock);
	for(tail = &s->incoming; *tail; tail = &(*tail)->next);
	*tail = req;
	s->in_flight++;
	pthread_mutex_unlock(&s->lock);
	curl_multi_wakeup(s->multi);
}

struct sender_request *sender_take(struct sender *s)
{
	struct sender_request *req;

	pthread_mutex_lock(&s->lock);
	req = s->done;
	if(req){
		s->done = req->next;
		req->next = NULL;
		s->in_flight--;
	}
	pthread_mutex_unlock(&s->lock);
	return req;
}

long sender_in_flight(struct sender *s)
{
	long n;

	pthread_mutex_lock(&s->lock);
	n = s->in_flight;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void sender_request_free(struct sender_request *req)
{
	if(!req) return;
	free(req->url);
	free(req->authorization);
	free(req->body);
	free(req);
}

static void free_list(struct sender_request *req)
{
	while(req){
		struct sender_request *next = req->next;
		sender_request_free(req);
		req = next;
	}
}

void sender_free(struct sender *s)
{
	if(!s) return;
	if(s->started){
		atomic_store(&s->stopping, true);
		curl_multi_wakeup(s->multi);
		pthread_join(s->thread, NULL);
	}
	while(s->transfers){
		struct transfer *t = s->transfers;

		curl_multi_remove_handle(s->multi, t->easy);
		curl_easy_cleanup(t->easy);
		sender_request_free(t->req);
		transfer_free(s, t);
	}
	if(s->multi) curl_multi_cleanup(s->multi);
	curl_global_cleanup();
	free_list(s->incoming);
	free_list(s->done);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
