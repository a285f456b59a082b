/* chat_backoff.h: the delay before a reconnect attempt of chat: "full
 * jitter" above a floor, exponential and capped. Pure: no clock, no
 * random source of its own (the caller passes one), so tests can check it. */
#ifndef CHAT_BACKOFF_H
#define CHAT_BACKOFF_H

#include <stdint.h>

/* Returns the delay in ms before reconnect attempt number attempt (0: the
 * first after a loss), given rnd, a uniformly random 32-bit number:
 * uniform in [min_ms / 2, min(max_ms, min_ms * 2^attempt)]. The ceiling
 * doubles per attempt up to max_ms; the jitter spreads the clients a
 * broker restart dropped over the whole window instead of bringing them
 * back in the same instant; the floor keeps a flapping connection from a
 * tight loop. Needs 0 < min_ms <= max_ms. */
long chat_backoff_ms(unsigned attempt, long min_ms, long max_ms, uint32_t rnd);

#endif
