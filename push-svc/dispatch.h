/* dispatch.h: from pushes owed (push_state rows that are due) to HTTP
 * requests, and from their answers back to MariaDB. Each due row becomes
 * one push carrying the count of messages it covers; an answer moves the
 * row: 2xx records the push (push_log) and opens the coalescing window,
 * 404/410 delete the subscription, 429/5xx/no answer retry with backoff
 * (Retry-After when given), anything else drops what was owed. */
#ifndef PUSH_DISPATCH_H
#define PUSH_DISPATCH_H

#include "push.h"

struct dispatch;

/* Returns the dispatcher (free with dispatch_free), or NULL when out of
 * memory. */
struct dispatch *dispatch_new(struct push_svc *svc);

/* Called from the service loop: applies finished requests, then, when due,
 * sends what is owed to users not online. */
void dispatch_tick(struct dispatch *d);

/* Requests in flight. */
unsigned dispatch_in_flight(const struct dispatch *d);

/* Frees d (requests in flight are the sender's); NULL allowed. */
void dispatch_free(struct dispatch *d);

#endif
