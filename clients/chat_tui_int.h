/* chat_tui_int.h: what the files of chat's full-screen front end share
 * (private to them). A call only goes down this list, never up:
 *   chat_tui.c        the session: the event queue, the main loop
 *   chat_tui_input.c  keys, the input line, Tab completion, scrolling
 *   chat_tui_draw.c   drawing the screen from the model
 *   chat_tui_model.c  rooms, lines, users: what events change, what
 *                     commands answered
 *   chat_tui_ops.c    message operations on lines: edits, tombstones,
 *                     reactions, replies, threads, seqs; how a message reads
 * Only the main thread touches the model and the screen. */
#ifndef CHAT_TUI_INT_H
#define CHAT_TUI_INT_H

#define NCURSES_WIDECHAR 1
#include <pthread.h>
#include <stddef.h>
#include <time.h>
#include <wchar.h>

#include "chat_loop.h"
#include "chat_net.h"
#include "names.h"

#define ROOMS_W 20              /* width of the room list */
#define MEMBERS_W 18            /* width of the member list */
#define SIDES_MIN_COLS 70       /* narrower: no side lists */
#define LINES_MAX 5000          /* lines kept per room */
#define USERS_MAX 1024          /* users whose presence is known */
#define MEMBERS_MAX 200         /* members shown per room */
#define TYPING_MAX 16           /* typing users remembered per room */
#define TYPING_TTL_S 6
#define TYPING_SEND_S 3         /* at most one typing indicator per this */
#define INPUT_HISTORY 100
#define HISTORY_PAGE 50
#define ROOMS_POLL_S 10         /* the server does not announce new rooms (a DM, an invite): ask */

enum line_kind { LINE_MSG, LINE_EMOTE, LINE_INFO, LINE_ERROR };

struct line {
	enum line_kind kind;
	long seq;                   /* from the archive, else 0 */
	char when[6];               /* HH:MM */
	char sender[NAME_USER_MAX + 1];
	char id[NAME_MSGID_MAX + 1];
	char *text;
	/* Message operations (chat_tui_ops.c): */
	long reply_to;              /* the message it quotes, or 0 */
	long thread;                /* its thread's root, or 0 */
	long replies;               /* a thread root's reply count */
	int edited;
	char deleted_by[NAME_USER_MAX + 1]; /* "" unless deleted */
	char *reactions;            /* "R:COUNT:u1,u2 ..." (chat_event.reactions), or NULL */
};

/* How far a member who shares it has read (docs/PROTOCOL.md 4.8). */
struct reader {
	char user[NAME_USER_MAX + 1];
	long seq;
};

struct typist {
	char user[NAME_USER_MAX + 1];
	time_t until;
};

struct room {
	char name[NAME_ROOM_MAX + 1];
	char with[NAME_USER_MAX + 1];   /* the other person of a direct room */
	struct line *lines;
	size_t nlines, cap;
	long unread;
	int mention;                    /* an unread message names us */
	long marker;                    /* lines before the read marker, or -1 */
	int scroll;                     /* screen rows scrolled up from the bottom */
	int loaded;                     /* the newest page of history is in */
	int loading_older;
	int at_start;                   /* history has nothing older */
	struct line *batch;             /* a history reply being received */
	size_t nbatch, batch_cap;
	char members[MEMBERS_MAX][NAME_USER_MAX + 1];
	size_t nmembers;
	char next_members[MEMBERS_MAX][NAME_USER_MAX + 1];
	size_t nnext;
	struct typist typing[TYPING_MAX];
	char *topic;                    /* the room's topic, or NULL */
	long mentions;                  /* unread messages that mention us */
	struct reader readers[MEMBERS_MAX]; /* read markers of others, live and from /seen */
	size_t nreaders;
	long seen_at;                   /* seq of our newest message: "seen by" shows under it, or 0 */
};

struct user {
	char name[NAME_USER_MAX + 1];
	char state[16];
	char text[128];
};

/* A copied event waiting for the main thread. */
struct qev {
	struct qev *next;
	struct chat_event ev;
};

struct tui {
	struct chat_loop loop;      /* its lock also guards the queue */
	struct qev *head, *tail;

	/* Main thread only: */
	struct chat_net *net;
	struct room *rooms[CHAT_ROOMS_MAX];
	size_t nrooms;
	size_t current;             /* index into rooms; nrooms when none */
	struct user users[USERS_MAX];
	size_t nusers;
	int online;
	int ever_connected;
	char status_note[128];      /* "reconnecting", the last disconnect reason */
	time_t retry_at;            /* offline: when the next connect attempt is due */
	long retry_attempt;         /* its number since the connection was lost, or 0 */
	wchar_t input[CHAT_LINE_MAX + 1];
	size_t input_len, cursor;
	char *history[INPUT_HISTORY];
	size_t nhistory;
	size_t history_pos;         /* nhistory: the line being typed */
	wchar_t comp_prefix[NAME_ROOM_MAX + 2];
	size_t comp_start;
	int comp_index;             /* -1: no completion under way */
	time_t typing_sent;
	time_t rooms_polled;
	int quit;
	/* Answers to commands being received, printed when complete: */
	struct line *asked;         /* /history: the messages of the reply */
	size_t nasked, asked_cap;
	char who[MEMBERS_MAX][NAME_USER_MAX + 1]; /* /who: the members so far */
	size_t nwho;
};

/* ---- chat_tui_model.c ---- */
/* The current room, or NULL. */
struct room *model__cur(struct tui *t);
/* The room called name (NULL: none); with create, added when new (NULL
 * when full, out of memory or not a room name). */
struct room *model__room_get(struct tui *t, const char *name, int create);
/* The display name of a room into buf: "@bob" for a direct room, else "#name". */
void model__room_label(const struct room *r, char *buf, size_t len);
/* The user called name (NULL: none); with create, added when new. */
struct user *model__user_get(struct tui *t, const char *name, int create);
/* Whether body names user as a word. */
int model__mentions(const char *body, const char *user);
/* Makes room r current: the read marker goes before its unread lines,
 * which count as read now; members and history are asked for. */
void model__switch_to(struct tui *t, struct room *r);
/* Follows what the network side says: the rooms it follows and which is
 * current (after /join, /leave, /msg replies). */
void model__sync_rooms(struct tui *t);
/* Applies one event to the model (main thread). */
void model__apply(struct tui *t, const struct chat_event *ev);
/* Frees the model's rooms, input history and answers being received. */
void model__free(struct tui *t);

/* ---- chat_tui_ops.c ---- */
/* The text of a message line as shown, into buf (len bytes): the quoted
 * message (from r's lines), "HH:MM [SEQ] <sender> text (edited)" or the
 * tombstone, reactions, a thread root's replies, and under our newest
 * message who has read it ("seen by"), on rows of their own. */
void ops__line_text(const struct room *r, const struct line *l, char *buf, size_t len);
/* Copies the operation state of a message event (CHAT_EV_MSG or
 * CHAT_EV_HISTORY) into line l. */
void ops__line_state(struct line *l, const struct chat_event *ev);
/* Applies a CHAT_EV_OP to room r (the line of message ev->ref, or the
 * topic); returns 1 when something shown changed. */
int ops__apply(struct room *r, const struct chat_event *ev);
/* The line of sender's message id (or, id NULL, of seq) in r, or NULL. */
struct line *ops__find(struct room *r, const char *sender, const char *id, long seq);
/* Notes that user (not me) has read room r up to seq (a live read marker,
 * or an item of a /seen reply). */
void ops__reader_set(struct room *r, const char *user, long seq, const char *me);
/* Finds our newest message in r, under which "seen by" shows (seen_at). */
void ops__seen_mark(struct room *r, const char *me);
/* Frees what line l holds for operations. */
void ops__line_clear(struct line *l);
/* Changes user's reaction in *reactions (a string as in struct line;
 * replaced, freed with free): add or take away. Returns 0, or -1 when out
 * of memory. */
int ops__reaction_change(char **reactions, const char *reaction, const char *user, int add);

/* ---- chat_tui_draw.c ---- */
/* Decodes one character of UTF-8 at s (n bytes left) into *wc; returns
 * the bytes used (at least 1: an invalid byte becomes U+FFFD). */
size_t draw__next_char(const char *s, size_t n, wchar_t *wc);
/* Rows line l of room r takes at width columns; buf (len bytes) is scratch space. */
int draw__line_rows(const struct room *r, const struct line *l, int width, char *buf, size_t len);
/* Columns of the message pane on this screen. */
int draw__pane_width(void);
/* Draws the whole screen. */
void draw__redraw(struct tui *t);

/* ---- chat_tui_input.c ---- */
/* Reads and acts on every key waiting on the terminal. */
void input__read_keys(struct tui *t);

#endif
