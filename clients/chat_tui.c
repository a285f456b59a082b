/* chat_tui.c: the full-screen front end of chat (ncursesw); see
 * chat_tui.h. The parts are listed in chat_tui_int.h.
 *
 * Threads: events come from the MQTT library's threads. on_event copies
 * each into a queue under the loop's lock and wakes the main thread; only
 * the main thread touches the screen and the model (rooms, lines, users).
 * The main thread waits in chat_loop (the terminal, SIGINT, SIGTERM,
 * SIGWINCH, wake-ups), with a one-second tick for the clock and for typing
 * indicators that expire. */
#include "chat_loop.h"
#include "chat_tui.h"
#include "chat_tui_int.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <ncursesw/curses.h>

#define DRAIN_MS 3000
#define CLOSE_MS 2000

/* ---- events from any thread ---- */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void qev_free(struct qev *q)
{
	if(!q) return;
	free((char *)q->ev.room);
	free((char *)q->ev.user);
	free((char *)q->ev.id);
	free((char *)q->ev.body);
	free((char *)q->ev.ts);
	free((char *)q->ev.state);
	free((char *)q->ev.code);
	free((char *)q->ev.text);
	free((char *)q->ev.topic);
	free((char *)q->ev.op);
	free((char *)q->ev.visibility);
	free((char *)q->ev.op_kind);
	free((char *)q->ev.reaction);
	free((char *)q->ev.edited);
	free((char *)q->ev.deleted_by);
	free((char *)q->ev.deleted_ts);
	free((char *)q->ev.reactions);
	free((char *)q->ev.mentions);
	free((char *)q->ev.last_reply);
	free(q);
}

static void on_event(void *ctx, const struct chat_event *ev)
{
	struct tui *t = ctx;
	struct qev *q = NULL;

	if(ev->kind == CHAT_EV_SENT || ev->kind == CHAT_EV_BAD_PAYLOAD || ev->kind == CHAT_EV_NOTE){
		chat_loop_wake(&t->loop); /* the queued count may have changed; diagnostics are not shown */
		return;
	}
	if(ev->kind == CHAT_EV_CLOSED){
		chat_loop_set(&t->loop, &t->loop.closed, 1);
		return;
	}
	q = calloc(1, sizeof(*q));
	if(!q) return;
	q->ev = *ev;
	q->ev.room = dup_or_null(ev->room);
	q->ev.user = dup_or_null(ev->user);
	q->ev.id = dup_or_null(ev->id);
	q->ev.body = dup_or_null(ev->body);
	q->ev.ts = dup_or_null(ev->ts);
	q->ev.state = dup_or_null(ev->state);
	q->ev.code = dup_or_null(ev->code);
	q->ev.text = dup_or_null(ev->text);
	q->ev.topic = NULL;
	q->ev.op = dup_or_null(ev->op);
	q->ev.visibility = dup_or_null(ev->visibility);
	q->ev.op_kind = dup_or_null(ev->op_kind);
	q->ev.reaction = dup_or_null(ev->reaction);
	q->ev.edited = dup_or_null(ev->edited);
	q->ev.deleted_by = dup_or_null(ev->deleted_by);
	q->ev.deleted_ts = dup_or_null(ev->deleted_ts);
	q->ev.reactions = dup_or_null(ev->reactions);
	q->ev.mentions = dup_or_null(ev->mentions);
	q->ev.last_reply = dup_or_null(ev->last_reply);
	pthread_mutex_lock(&t->loop.lock);
	if(ev->kind == CHAT_EV_ERROR && ev->fatal) t->loop.fatal = ev->fatal;
	if(t->tail) t->tail->next = q;
	else t->head = q;
	t->tail = q;
	pthread_mutex_unlock(&t->loop.lock);
	chat_loop_wake(&t->loop);
}

static int drain_events(struct tui *t)
{
	struct qev *list = NULL;
	int any = 0;

	pthread_mutex_lock(&t->loop.lock);
	list = t->head;
	t->head = t->tail = NULL;
	pthread_mutex_unlock(&t->loop.lock);
	while(list){
		struct qev *q = list;

		list = q->next;
		model__apply(t, &q->ev);
		qev_free(q);
		any = 1;
	}
	if(any) model__sync_rooms(t);
	return any;
}


/* ---- the session ---- */

static void resize(void)
{
	struct winsize ws;

	if(ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0){
		resizeterm(ws.ws_row, ws.ws_col);
	}
}

static void tui_free(struct tui *t)
{
	struct qev *q = t->head;

	while(q){
		struct qev *next = q->next;

		qev_free(q);
		q = next;
	}
	t->head = t->tail = NULL;
	model__free(t);
}

/* Runs one full-screen session with opts; returns the exit status (0
 * done, 1 failure, 2 login refused). Everything it creates is freed here
 * and the terminal is restored on every path. */
int chat_tui_run(const struct chat_net_opts *opts)
{
	static struct tui t;
	int screen = 0;
	int signalled = 0;
	int fatal = 0;
	int rc = 1;

	memset(&t, 0, sizeof(t));
	t.comp_index = -1;
	if(chat_loop_init(&t.loop, SIGWINCH)) goto out;
	setlocale(LC_ALL, "");

	t.net = chat_net_new(opts, on_event, &t);
	if(!t.net) goto out;
	if(!initscr()){
		fprintf(stderr, "chat: cannot start the full-screen mode (try --plain)\n");
		goto out;
	}
	screen = 1;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	model__room_get(&t, opts->room, 1);
	t.current = 0;
	if(chat_net_start(t.net)) goto out;

	while(!t.quit){
		int got, signo;

		if(chat_loop_get(&t.loop, &t.loop.fatal)) break;
		drain_events(&t);
		if(t.online && time(NULL) - t.rooms_polled >= ROOMS_POLL_S){
			t.rooms_polled = time(NULL);
			chat_net_rooms(t.net, 0);
		}
		draw__redraw(&t);
		got = chat_loop_wait(&t.loop, STDIN_FILENO, 1000, &signo);
		if(signo == SIGINT || signo == SIGTERM){
			signalled = 1;
			break;
		}
		if(signo == SIGWINCH) resize();
		if(got & CHAT_LOOP_INPUT) input__read_keys(&t);
	}
	fatal = chat_loop_get(&t.loop, &t.loop.fatal);
	/* Give what was typed a moment to reach the broker. */
	if(!signalled && !fatal && chat_loop_drain(&t.loop, t.net, DRAIN_MS) > 0) signalled = 1;
	endwin();
	screen = 0;
	chat_loop_close(&t.loop, t.net, signalled || fatal ? 0 : 1000, CLOSE_MS);
	if(fatal == 2) fprintf(stderr, "chat: the broker refused the login (wrong user name or password?)\n");
	else if(fatal) fprintf(stderr, "chat: the broker refused the connection\n");
	rc = fatal;
out:
	if(screen) endwin();
	/* Paho may still call back while it is destroyed: t lives until then. */
	chat_net_free(t.net);
	t.net = NULL;
	tui_free(&t);
	chat_loop_free(&t.loop);
	return rc;
}
