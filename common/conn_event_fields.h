/* conn_event_fields.h: the names on the wire between the broker plugin
 * (auth-plugin/conn_events.c, which writes them) and presence-svc
 * (presence-svc/conn_event.c, which reads them) on
 * chat/v1/sys/conn/{node} and chat/v1/sys/sync/{node}; docs/PROTOCOL.md
 * section 3.6 describes each. Both ends spell them from here, so a field
 * renamed on one end cannot silently go missing on the other. */
#ifndef CHAT_CONN_EVENT_FIELDS_H
#define CHAT_CONN_EVENT_FIELDS_H

/* Fields every connection event carries. */
#define CONN_EV_EVENT "event"       /* one of the CONN_EV_KIND_* below */
#define CONN_EV_NODE "node"         /* the node's name (the topic's {node}) */
#define CONN_EV_BOOT "boot"         /* the node's start time in ms, hex */
#define CONN_EV_SEQ "seq"           /* connect/disconnect events of this boot so far */
#define CONN_EV_TS "ts"             /* ms since the epoch */

/* A connection: connect and disconnect events, and each snapshot entry. */
#define CONN_EV_CONN "conn"         /* the connection id: node-boot-counter */
#define CONN_EV_USER "user"
#define CONN_EV_CLIENT "client"     /* the MQTT client id */
#define CONN_EV_SINCE "since"       /* snapshot entries: ms since the epoch */

/* Heartbeat. */
#define CONN_EV_CONNS "conns"       /* heartbeat: a count; snapshot: the list */
#define CONN_EV_DIGEST "digest"     /* 16 hex digits: XOR of FNV-1a of each conn */
#define CONN_EV_INTERVAL_MS "interval_ms"

/* Snapshot, and the request for one on chat/v1/sys/sync/{node}. */
#define CONN_EV_SYNC "sync"         /* the request's id, echoed by the snapshot */
#define CONN_EV_PART "part"
#define CONN_EV_PARTS "parts"

/* Values of CONN_EV_EVENT. */
#define CONN_EV_KIND_CONNECT "connect"
#define CONN_EV_KIND_DISCONNECT "disconnect"
#define CONN_EV_KIND_HEARTBEAT "heartbeat"
#define CONN_EV_KIND_SNAPSHOT "snapshot"

/* Longest connection id (bytes, without the NUL) and its characters:
 * [A-Za-z0-9_-] (a node name, '-', hex digits, '-', a decimal counter). */
#define CONN_EV_ID_MAX 63
/* Longest client id carried (bytes, without the NUL). */
#define CONN_EV_CLIENT_MAX 128
/* Longest boot and digest (hex digits). */
#define CONN_EV_HEX_MAX 16

#endif
