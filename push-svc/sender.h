/* sender.h: HTTP POSTs to push services on a thread of its own (libcurl
 * multi interface): any number of requests in flight, each with its own
 * timeout, so a slow or silent endpoint holds only its own request. The
 * service thread hands requests in with sender_submit and takes finished
 * ones back with sender_take; it never waits for the network. */
#ifndef PUSH_SENDER_H
#define PUSH_SENDER_H

#include <stddef.h>

struct sender;

struct sender_request {
	struct sender_request *next;     /* the sender's queues */
	/* Filled by the caller; the sender frees body and the strings with
	 * sender_request_free. */
	unsigned long long sub_id;
	unsigned long long room_id;
	long long from_seq, to_seq;
	int count;
	char *url;
	char *authorization;             /* "vapid t=..., k=..." */
	char topic[40];                  /* RFC 8030 Topic header value */
	int urgent;                      /* Urgency: high, else normal */
	long ttl_s;
	unsigned char *body;
	size_t body_len;
	long long submitted_ms;
	/* Filled by the sender. */
	long status;                     /* HTTP status, 0 when no answer */
	long retry_after_s;              /* Retry-After in seconds, -1 if absent */
	char error[128];                 /* curl's error when status is 0 */
};

/* Starts the thread. timeout_ms bounds each request (connect included);
 * allow_http permits http:// URLs (tests, loopback push services).
 * Returns the sender (free with sender_free) or NULL with a message. */
struct sender *sender_new(long timeout_ms, int allow_http, char *err, size_t errlen);

/* Hands req over (the sender owns it until sender_take returns it). Any
 * thread. */
void sender_submit(struct sender *s, struct sender_request *req);

/* Returns a finished request (status filled; the caller owns it again and
 * frees it with sender_request_free), or NULL when none is finished. */
struct sender_request *sender_take(struct sender *s);

/* Requests submitted and not yet taken back. */
long sender_in_flight(struct sender *s);

/* Frees req and everything it holds; NULL allowed. */
void sender_request_free(struct sender_request *req);

/* Stops the thread, abandoning requests in flight, and frees s; NULL
 * allowed. */
void sender_free(struct sender *s);

#endif
