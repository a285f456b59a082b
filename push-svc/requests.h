/* requests.h: push-svc's requests on chat/v1/users/{you}/req/push
 * (docs/PROTOCOL.md 4.6): subscribe, subscriptions, unsubscribe. Replies go
 * to the requester's inbox with the envelope of every service. */
#ifndef PUSH_REQUESTS_H
#define PUSH_REQUESTS_H

#include <stddef.h>

#include "push.h"

/* Answers one request of user (payload as received). */
void push_request(struct push_svc *svc, const char *user, const void *payload, size_t len);

#endif
