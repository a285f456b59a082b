/* chat_loop.h: the event loop both front ends of chat share. The main
 * thread waits in poll() on a wake pipe (events from the MQTT library's
 * threads write a byte to it), a signalfd (SIGINT, SIGTERM, and one more
 * a front end asks for) and, when asked, an input descriptor; and the end
 * of a session: waiting for what was sent to be acknowledged, then for
 * the disconnect. */
#ifndef CHAT_LOOP_H
#define CHAT_LOOP_H

#include <pthread.h>

#include "chat_net.h"

struct chat_loop {
	pthread_mutex_t lock;   /* the flags below; a front end may guard more with it */
	int have_lock;
	int wake[2];
	int sfd;                /* the signalfd */
	int fatal;              /* exit status a fatal error asked for, or 0 */
	int closed;             /* the disconnect asked for is complete */
};

enum { CHAT_LOOP_WOKEN = 1, CHAT_LOOP_INPUT = 2 };

/* Sets loop up: the lock, the wake pipe, and a signalfd for SIGINT,
 * SIGTERM and extra_signal (when not 0), which are blocked in the calling
 * thread (call it before the MQTT threads exist, so they inherit the mask
 * and the signals only reach the descriptor); SIGPIPE is ignored. Returns
 * 0, or -1 after printing why on stderr; chat_loop_free frees what was
 * made either way. */
int chat_loop_init(struct chat_loop *loop, int extra_signal);

/* Frees what chat_loop_init made. */
void chat_loop_free(struct chat_loop *loop);

/* Wakes the main thread (from any thread). */
void chat_loop_wake(struct chat_loop *loop);

/* Reads / sets (and wakes the main thread) a flag of loop under its lock. */
int chat_loop_get(struct chat_loop *loop, const int *flag);
void chat_loop_set(struct chat_loop *loop, int *flag, int value);

/* Waits up to timeout_ms (-1: no limit) for a wake-up, a signal or, when
 * infd >= 0, input on infd. Returns a mask of CHAT_LOOP_WOKEN and
 * CHAT_LOOP_INPUT (0 on timeout), with the signal received in *signo
 * (SIGINT or SIGTERM before any other; 0 for none). */
int chat_loop_wait(struct chat_loop *loop, int infd, int timeout_ms, int *signo);

/* Waits until net has nothing pending (chat_net_pending) or a fatal error
 * came, for at most timeout_ms. Returns 0 then, 1 when SIGINT or SIGTERM
 * came first, -1 when the time ran out with something still pending. */
int chat_loop_drain(struct chat_loop *loop, struct chat_net *net, int timeout_ms);

/* Disconnects net (giving in-flight publishes grace_ms) and waits up to
 * close_ms for the disconnect to complete, or until SIGINT or SIGTERM. */
void chat_loop_close(struct chat_loop *loop, struct chat_net *net, int grace_ms, int close_ms);

#endif
