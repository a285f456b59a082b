/* probe.h: the health agent's MQTT probe. It logs in to one broker with the
 * health account, subscribes to its own topic
 * chat/v1/sys/health/{node}/{user} (docs/PROTOCOL.md 3.7) and round-trips a
 * counter through the broker every interval. libmosquitto's network thread
 * (reconnecting with backoff) delivers the echoes; the caller's thread sends
 * the probes and asks for the verdict. */
#ifndef HEALTH_PROBE_H
#define HEALTH_PROBE_H

#include <stddef.h>

struct probe;

struct probe_settings {
	const char *host;
	int port;
	const char *user;
	const char *password;
	const char *node;   /* the broker's node name, part of the topic */
	int keepalive_s;    /* MQTT keepalive: a stuck broker is dropped after 1.5x */
};

/* Creates a probe and starts connecting (in the background) with settings
 * (strings copied). Returns the probe, which the caller frees with
 * probe_free, or NULL with a message in err (errlen bytes). */
struct probe *probe_start(const struct probe_settings *settings, char *err, size_t errlen);

/* Publishes the next probe token if the client is connected. Returns 0, or
 * -1 when not connected or the publish failed (the age of the last echo
 * then grows by itself: no separate failure state). */
int probe_send(struct probe *probe);

/* Milliseconds since the last probe came back (now_ms - the time of that
 * round trip), or -1 when none has come back yet. */
long long probe_age_ms(struct probe *probe, long long now_ms);

/* Stops the network thread, disconnects and frees probe; NULL is allowed. */
void probe_free(struct probe *probe);

#endif
