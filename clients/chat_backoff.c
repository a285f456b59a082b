/* chat_backoff.c: the reconnect delay of chat; see chat_backoff.h. */
#include "chat_backoff.h"

/* See chat_backoff.h; nothing to free. */
long chat_backoff_ms(unsigned attempt, long min_ms, long max_ms, uint32_t rnd)
{
	long ceiling = min_ms;
	long floor_ms = min_ms / 2;

	for(unsigned i = 0; i < attempt && ceiling < max_ms; i++) ceiling = ceiling > max_ms / 2 ? max_ms : ceiling * 2;
	if(ceiling > max_ms) ceiling = max_ms;
	if(ceiling <= floor_ms) return ceiling;
	return floor_ms + (long)(rnd % (uint32_t)(ceiling - floor_ms + 1));
}
