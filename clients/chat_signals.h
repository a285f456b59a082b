/* chat_signals.h: the signal set-up both front ends share. */
#ifndef CHAT_SIGNALS_H
#define CHAT_SIGNALS_H

/* Blocks SIGINT, SIGTERM (and extra_signal when not 0) in the calling thread
 * (call it before the MQTT threads exist, so they inherit the mask and the
 * signals only reach the descriptor), ignores SIGPIPE, and returns a
 * non-blocking signalfd for them that the caller closes; -1 after printing
 * why on stderr. */
int chat_signalfd_open(int extra_signal);

#endif
