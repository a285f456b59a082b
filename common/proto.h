/* proto.h: the names and limits both ends of a wire agree on
 * (docs/PROTOCOL.md): error codes, request ops and payload limits. Every
 * service and client spells them from here, so a code changes in one place
 * and in PROTOCOL.md together. */
#ifndef CHAT_PROTO_H
#define CHAT_PROTO_H

/* Error codes, in replies' "error"."code" and in message errors' "code". */
#define PROTO_ERR_BAD_JSON "bad_json"         /* not a JSON object */
#define PROTO_ERR_TOO_DEEP "too_deep"         /* nested deeper than PROTO_MAX_DEPTH */
#define PROTO_ERR_TOO_LARGE "too_large"       /* over a size limit */
#define PROTO_ERR_BAD_REQUEST "bad_request"   /* a request field missing or out of range */
#define PROTO_ERR_UNKNOWN_OP "unknown_op"     /* an op the service does not have */
#define PROTO_ERR_UNAVAILABLE "unavailable"   /* the database is down; retry */
#define PROTO_ERR_NOT_MEMBER "not_member"
#define PROTO_ERR_ROOM_EXISTS "room_exists"
#define PROTO_ERR_NOT_FOUND "not_found"
#define PROTO_ERR_FORBIDDEN "forbidden"
#define PROTO_ERR_UNKNOWN_USER "unknown_user"
#define PROTO_ERR_NOT_ONLINE "not_online"
#define PROTO_ERR_BAD_MESSAGE "bad_message"   /* room message: id or body unusable */
#define PROTO_ERR_BAD_UTF8 "bad_utf8"         /* room message: body not UTF-8 text */
#define PROTO_ERR_BAD_BODY "bad_body"         /* room message: body holds a control character */
#define PROTO_ERR_UNKNOWN_ROOM "unknown_room"
/* Room message kinds other than a plain message (PROTOCOL 3.1, 3.3). */
#define PROTO_ERR_UNKNOWN_REF "unknown_ref"   /* ref/reply_to/thread names no message of the room */
#define PROTO_ERR_BAD_REF "bad_ref"           /* a seq out of range, or a thread root that is a reply */
#define PROTO_ERR_DELETED "deleted"           /* edit of, or reaction to, a deleted message */
#define PROTO_ERR_BAD_REACTION "bad_reaction" /* reaction empty, invalid, or with whitespace or controls */
#define PROTO_ERR_BAD_PASSWORD "bad_password" /* password: "old" is not the current password */
#define PROTO_ERR_BANNED "banned"             /* join/invite of a user banned from the room */

/* Request ops of history-svc (chat/v1/users/{you}/req/history). */
#define PROTO_OP_HISTORY "history"
#define PROTO_OP_ROOMS "rooms"
#define PROTO_OP_PUBLIC_ROOMS "public_rooms"
#define PROTO_OP_CREATE "create"
#define PROTO_OP_JOIN "join"
#define PROTO_OP_LEAVE "leave"
#define PROTO_OP_INVITE "invite"
#define PROTO_OP_KICK "kick"
#define PROTO_OP_READ "read"
#define PROTO_OP_DM "dm"
/* Account self-service ops of history-svc (history-svc/account_ops.c). */
#define PROTO_OP_TOKEN "token"
#define PROTO_OP_TOKENS "tokens"
#define PROTO_OP_REVOKE_TOKEN "revoke_token"
#define PROTO_OP_PASSWORD "password"
/* Room moderation, read receipts and search (PROTOCOL 4.4-4.6). */
#define PROTO_OP_TOPIC "topic"
#define PROTO_OP_ROLE "role"
#define PROTO_OP_BAN "ban"
#define PROTO_OP_UNBAN "unban"
#define PROTO_OP_BANS "bans"
#define PROTO_OP_RECEIPTS "receipts"
#define PROTO_OP_PREFS "prefs"
#define PROTO_OP_SEARCH "search"
/* Request ops of presence-svc (chat/v1/users/{you}/req/presence). */
#define PROTO_OP_STATUS "status"
#define PROTO_OP_ROSTER "roster"
#define PROTO_OP_DEVICES "devices"
/* Request ops of push-svc (chat/v1/users/{you}/req/push). */
#define PROTO_OP_SUBSCRIBE "subscribe"
#define PROTO_OP_SUBSCRIPTIONS "subscriptions"
#define PROTO_OP_UNSUBSCRIBE "unsubscribe"

/* Longest room topic (bytes; PROTOCOL 4.4) and search query (4.6). */
#define PROTO_TOPIC_MAX 300
#define PROTO_SEARCH_QUERY_MAX 200

/* Largest request a service answers (bytes of payload). */
#define PROTO_REQUEST_MAX_BYTES 4096
/* Largest payload a service reads at all: the brokers' max_packet_size.
 * A request between the two limits is still read to echo its req_id and
 * op in the too_large reply. */
#define PROTO_PAYLOAD_READ_MAX 65536
/* A room message (PROTOCOL 3.1): the largest body, and the largest
 * payload read, that history-svc takes by default (its max_body_bytes and
 * max_payload_bytes) and that a client shows live and sends. */
#define PROTO_MSG_BODY_MAX 4000
#define PROTO_MSG_PAYLOAD_MAX 16384
/* Longest reaction (bytes) and most mentions in one message. */
#define PROTO_REACTION_MAX 32
#define PROTO_MENTIONS_MAX 20
/* Deepest nesting of objects and arrays in any payload, the payload's own
 * object counting as level 1. */
#define PROTO_MAX_DEPTH 64
/* Longest op name echoed in a reply. */
#define PROTO_OP_MAX 32

#endif
