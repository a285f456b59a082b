/* requests.h: presence-svc's requests on chat/v1/users/{user}/req/presence
 * (docs/PROTOCOL.md section 4.5): "status" sets the sender's own state and
 * text, "roster" lists a room's members with their presence, "devices"
 * lists the sender's own open connections. The user is the one in the topic,
 * which the broker checked; replies go to that user's inbox. */
#ifndef PRESENCE_REQUESTS_H
#define PRESENCE_REQUESTS_H

#include <stddef.h>

struct presence;
struct db;

#define PRESENCE_TEXT_MAX 100
#define PRESENCE_ROSTER_MAX 500
#define PRESENCE_DEVICES_MAX 200

/* What a request needs from the service. db_get returns an open
 * connection or NULL (then the request is answered "unavailable");
 * db_failed says the connection just failed; reply sends a JSON text to
 * user's inbox. */
struct presence_requests_env {
	struct presence *presence;
	struct db *(*db_get)(void *ud);
	void (*db_failed)(void *ud);
	void (*reply)(void *ud, const char *user, const char *json);
	void *ud;
};

/* Handles one request payload of len bytes from user: reads its envelope
 * (request_envelope.h), then runs its op. Always answers, on user's inbox. */
void presence_request(const struct presence_requests_env *env, const char *user, const void *payload, size_t len);

#endif
