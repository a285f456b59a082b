/* plugin_metrics.h: the plugin's Prometheus metrics (docs/ADMIN.md,
 * "Metrics"). plugin.c calls these from the broker's thread; each is a few
 * relaxed atomic bumps (common/metrics.h) and, for connections, an O(1)
 * hash lookup. The HTTP server that Prometheus scrapes runs on a thread of
 * libmicrohttpd's own and only reads the atomics. When plugin_opt_metrics_port
 * is unset, plugin_metrics_start returns NULL and every call here is a no-op. */
#ifndef AUTH_PLUGIN_METRICS_H
#define AUTH_PLUGIN_METRICS_H

#include <stdbool.h>
#include <stddef.h>

/* Why a login was refused (one label value each). */
enum login_refusal {
	REFUSED_BAD_PASSWORD,  /* a back-end knows the user and denied */
	REFUSED_UNKNOWN_USER,  /* no back-end knows the user (deferred) */
	REFUSED_INVALID_NAME,  /* user name or client id not allowed */
	REFUSED_USER_LOCKED,   /* flood protection: name locked */
	REFUSED_ADDRESS_LOCKED,/* flood protection: address locked */
	REFUSED_SLOWED,        /* flood protection: name or address slowed */
	REFUSED_BUSY,          /* flood protection: node-wide budget spent */
	REFUSED_CLIENTID_TAKEN,/* client id belongs to another user */
	REFUSED_BACKEND_ERROR, /* the password could not be checked */
	REFUSED_NO_MEMORY,
	REFUSED_TOKEN,         /* a token login: unknown, revoked, expired or wrong token */
	REFUSED_REASON_COUNT
};

/* ACL answers, as counted. */
enum acl_outcome { ACL_OUTCOME_ALLOWED, ACL_OUTCOME_DENIED, ACL_OUTCOME_DEFERRED };

struct plugin_metrics;

/* Registers the metrics and starts the HTTP server on bind (NULL:
 * 127.0.0.1) and port. Returns NULL with err empty when port is 0 (metrics
 * off), NULL with a message in err when it could not start, or the
 * metrics (free with plugin_metrics_stop). */
struct plugin_metrics *plugin_metrics_start(const char *bind, long port, char *err, size_t errlen);

/* A login was accepted for connection conn (compared, never dereferenced). */
void plugin_metrics_login_accepted(struct plugin_metrics *pm, const void *conn);

/* The login just accepted used a token. */
void plugin_metrics_token_login(struct plugin_metrics *pm);

/* A login was refused for reason. */
void plugin_metrics_login_refused(struct plugin_metrics *pm, enum login_refusal reason);

/* Connection conn ended (ignored unless its login was accepted). */
void plugin_metrics_disconnected(struct plugin_metrics *pm, const void *conn);

/* An ACL check of access (MOSQ_ACL_*) was answered with outcome. */
void plugin_metrics_acl(struct plugin_metrics *pm, int access, enum acl_outcome outcome);

/* The flood protection locked a user name (address false) or an address. */
void plugin_metrics_flood_locked(struct plugin_metrics *pm, bool address);

/* A snapshot of version with users users was adopted now. */
void plugin_metrics_snapshot(struct plugin_metrics *pm, unsigned long long version, unsigned long users);

/* A message was accepted by the broker (MOSQ_EVT_MESSAGE). */
void plugin_metrics_message(struct plugin_metrics *pm);

/* A publish was refused by the send rate limit: a room message (request
 * false) or a request. */
void plugin_metrics_send_limited(struct plugin_metrics *pm, bool request);

/* Stops the server and frees everything; NULL allowed. */
void plugin_metrics_stop(struct plugin_metrics *pm);

#endif
