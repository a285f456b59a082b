/* chat_tui.c: the full-screen front end of chat (ncursesw); see
 * chat_tui.h. The parts are listed in chat_tui_int.h.
 *
 * Threads: events come from the MQTT library's threads. on_event copies
 * each into a queue under t->lock and writes a byte to the wake pipe; only
 * the main thread touches the screen and the model (rooms, lines, users).
 * The main thread waits in poll() on the terminal, a signalfd (SIGINT,
 * SIGTERM, SIGWINCH) and the wake pipe, with a one-second tick for the
 * clock and for typing indicators that expire. */
#include "chat_signals.h"
#include "chat_tui.h"
#include "chat_tui_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include <ncursesw/curses.h>

#include "clock.h"

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
	free(q);
}

static void wake(struct tui *t)
{
	char c = 1;
	ssize_t r = write(t->wake[1], &c, 1); /* full pipe: a wake-up is pending anyway */

	(void)r;
}

static void on_event(void *ctx, const struct chat_event *ev)
{
	struct tui *t = ctx;
	struct qev *q = NULL;

	if(ev->kind == CHAT_EV_SENT || ev->kind == CHAT_EV_BAD_PAYLOAD || ev->kind == CHAT_EV_NOTE){
		wake(t); /* the queued count may have changed; diagnostics are not shown */
		return;
	}
	if(ev->kind == CHAT_EV_CLOSED){
		pthread_mutex_lock(&t->lock);
		t->closed = 1;
		pthread_mutex_unlock(&t->lock);
		wake(t);
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
	pthread_mutex_lock(&t->lock);
	if(ev->kind == CHAT_EV_ERROR && ev->fatal) t->fatal = ev->fatal;
	if(t->tail) t->tail->next = q;
	else t->head = q;
	t->tail = q;
	pthread_mutex_unlock(&t->lock);
	wake(t);
}

static int drain_events(struct tui *t)
{
	struct qev *list = NULL;
	int any = 0;

	pthread_mutex_lock(&t->lock);
	list = t->head;
	t->head = t->tail = NULL;
	pthread_mutex_unlock(&t->lock);
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

static int get_flag(struct tui *t, const int *flag)
{
	int v;

	pthread_mutex_lock(&t->lock);
	v = *flag;
	pthread_mutex_unlock(&t->lock);
	return v;
}

/* Waits up to timeout_ms for the wake pipe, a signal or a key. Returns
 * the signal number (SIGINT, SIGTERM, SIGWINCH) or 0; *input is set when
 * the terminal has input. */
static int wait_for(struct tui *t, int sfd, int timeout_ms, int *input)
{
	struct pollfd fds[3] = {
		{ .fd = t->wake[0], .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	int sig = 0;

	*input = 0;
	if(poll(fds, 3, timeout_ms) <= 0) return 0;
	if(fds[0].revents){
		char buf[64];

		while(read(t->wake[0], buf, sizeof(buf)) > 0){
		}
	}
	if(fds[1].revents){
		struct signalfd_siginfo si;

		while(read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)){
			if(sig != SIGINT && sig != SIGTERM) sig = (int)si.ssi_signo;
		}
	}
	if(fds[2].revents) *input = 1;
	return sig;
}

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
	long long deadline;
	int have_lock = 0;
	int screen = 0;
	int signalled = 0;
	int sfd = -1;
	int fatal = 0;
	int rc = 1;

	memset(&t, 0, sizeof(t));
	t.wake[0] = t.wake[1] = -1;
	t.comp_index = -1;
	if(pthread_mutex_init(&t.lock, NULL)){
		fprintf(stderr, "chat: cannot create a mutex\n");
		goto out;
	}
	have_lock = 1;
	if(pipe2(t.wake, O_CLOEXEC | O_NONBLOCK)){
		fprintf(stderr, "chat: pipe: %s\n", strerror(errno));
		goto out;
	}
	sfd = chat_signalfd_open(SIGWINCH);
	if(sfd < 0) goto out;
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
		int input = 0;
		int sig;

		if(get_flag(&t, &t.fatal)) break;
		drain_events(&t);
		if(t.online && time(NULL) - t.rooms_polled >= ROOMS_POLL_S){
			t.rooms_polled = time(NULL);
			chat_net_rooms(t.net, 0);
		}
		draw__redraw(&t);
		sig = wait_for(&t, sfd, 1000, &input);
		if(sig == SIGINT || sig == SIGTERM){
			signalled = 1;
			break;
		}
		if(sig == SIGWINCH) resize();
		if(input) input__read_keys(&t);
	}
	fatal = get_flag(&t, &t.fatal);
	if(!signalled && !fatal){
		/* Give what was typed a moment to reach the broker. */
		deadline = clock_mono_ms() + DRAIN_MS;
		while(chat_net_pending(t.net) > 0 && clock_mono_ms() < deadline){
			int input;

			if(wait_for(&t, sfd, 100, &input) == SIGINT) break;
		}
	}
	endwin();
	screen = 0;
	chat_net_stop(t.net, signalled || fatal ? 0 : 1000);
	deadline = clock_mono_ms() + CLOSE_MS;
	while(!get_flag(&t, &t.closed) && clock_mono_ms() < deadline){
		int input;

		if(wait_for(&t, sfd, (int)(deadline - clock_mono_ms()), &input) == SIGINT) break;
	}
	if(fatal == 2) fprintf(stderr, "chat: the broker refused the login (wrong user name or password?)\n");
	else if(fatal) fprintf(stderr, "chat: the broker refused the connection\n");
	rc = fatal;
out:
	if(screen) endwin();
	/* Paho may still call back while it is destroyed: t lives until then. */
	chat_net_free(t.net);
	t.net = NULL;
	tui_free(&t);
	if(sfd >= 0) close(sfd);
	if(t.wake[0] >= 0) close(t.wake[0]);
	if(t.wake[1] >= 0) close(t.wake[1]);
	if(have_lock) pthread_mutex_destroy(&t.lock);
	return rc;
}

