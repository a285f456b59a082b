/* chat_signals.c: blocked signals read through a signalfd; see chat_signals.h. */
#include "chat_signals.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>

int chat_signalfd_open(int extra_signal)
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
