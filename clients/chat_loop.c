/* chat_loop.c: the event loop both front ends of chat share; see
 * chat_loop.h. */
#include "chat_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "clock.h"

/* Blocks SIGINT, SIGTERM and extra_signal and returns a non-blocking
 * signalfd for them, or -1 after printing why. */
static int signalfd_open(int extra_signal)
{
	sigset_t sigs;
	int sfd;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	if(extra_signal) sigaddset(&sigs, extra_signal);
	if(pthread_sigmask(SIG_BLOCK, &sigs, NULL)){
		fprintf(stderr, "chat: cannot block signals\n");
		return -1;
	}
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if(sfd < 0){
		fprintf(stderr, "chat: signalfd: %s\n", strerror(errno));
		return -1;
	}
	signal(SIGPIPE, SIG_IGN); /* a closed stdout is seen as a write error */
	return sfd;
}

/* See chat_loop.h; chat_loop_free frees what this made, also on failure. */
int chat_loop_init(struct chat_loop *loop, int extra_signal)
{
	memset(loop, 0, sizeof(*loop));
	loop->wake[0] = loop->wake[1] = loop->sfd = -1;
	if(pthread_mutex_init(&loop->lock, NULL)){
		fprintf(stderr, "chat: cannot create a mutex\n");
		return -1;
	}
	loop->have_lock = 1;
	if(pipe2(loop->wake, O_CLOEXEC | O_NONBLOCK)){
		fprintf(stderr, "chat: pipe: %s\n", strerror(errno));
		return -1;
	}
	loop->sfd = signalfd_open(extra_signal);
	return loop->sfd < 0 ? -1 : 0;
}

/* See chat_loop.h. */
void chat_loop_free(struct chat_loop *loop)
{
	if(loop->sfd >= 0) close(loop->sfd);
	if(loop->wake[0] >= 0) close(loop->wake[0]);
	if(loop->wake[1] >= 0) close(loop->wake[1]);
	if(loop->have_lock) pthread_mutex_destroy(&loop->lock);
	loop->sfd = loop->wake[0] = loop->wake[1] = -1;
	loop->have_lock = 0;
}

/* See chat_loop.h. */
void chat_loop_wake(struct chat_loop *loop)
{
	char c = 1;
	ssize_t r = write(loop->wake[1], &c, 1); /* full pipe: a wake-up is pending anyway */

	(void)r;
}

/* See chat_loop.h. */
int chat_loop_get(struct chat_loop *loop, const int *flag)
{
	int v;

	pthread_mutex_lock(&loop->lock);
	v = *flag;
	pthread_mutex_unlock(&loop->lock);
	return v;
}

/* See chat_loop.h. */
void chat_loop_set(struct chat_loop *loop, int *flag, int value)
{
	pthread_mutex_lock(&loop->lock);
	*flag = value;
	pthread_mutex_unlock(&loop->lock);
	chat_loop_wake(loop);
}

/* See chat_loop.h. */
int chat_loop_wait(struct chat_loop *loop, int infd, int timeout_ms, int *signo)
{
	struct pollfd fds[3] = {
		{ .fd = loop->wake[0], .events = POLLIN },
		{ .fd = loop->sfd, .events = POLLIN },
		{ .fd = infd, .events = POLLIN },
	};
	int got = 0;

	*signo = 0;
	if(poll(fds, infd >= 0 ? 3 : 2, timeout_ms) <= 0) return 0;
	if(fds[0].revents){
		char buf[64];

		while(read(loop->wake[0], buf, sizeof(buf)) > 0){
		}
		got |= CHAT_LOOP_WOKEN;
	}
	if(fds[1].revents){
		struct signalfd_siginfo si;

		while(read(loop->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)){
			if(*signo != SIGINT && *signo != SIGTERM) *signo = (int)si.ssi_signo;
		}
	}
	if(infd >= 0 && fds[2].revents) got |= CHAT_LOOP_INPUT;
	return got;
}

static int ends(int signo)
{
	return signo == SIGINT || signo == SIGTERM;
}

/* See chat_loop.h. */
int chat_loop_drain(struct chat_loop *loop, struct chat_net *net, int timeout_ms)
{
	long long deadline = clock_mono_ms() + timeout_ms;

	for(;;){
		long long left = deadline - clock_mono_ms();
		int signo = 0;

		if(chat_net_pending(net) == 0 || chat_loop_get(loop, &loop->fatal)) return 0;
		if(left <= 0) return -1;
		chat_loop_wait(loop, -1, (int)left, &signo);
		if(ends(signo)) return 1;
	}
}

/* See chat_loop.h. */
void chat_loop_close(struct chat_loop *loop, struct chat_net *net, int grace_ms, int close_ms)
{
	long long deadline;

	chat_net_stop(net, grace_ms);
	deadline = clock_mono_ms() + close_ms;
	while(!chat_loop_get(loop, &loop->closed)){
		long long left = deadline - clock_mono_ms();
		int signo = 0;

		if(left <= 0) break;
		chat_loop_wait(loop, -1, (int)left, &signo);
		if(ends(signo)) break;
	}
}
