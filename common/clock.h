/* clock.h: the clocks every part reads, in one place. Monotonic time for
 * intervals and deadlines, wall time for what goes on the wire. */
#ifndef CHAT_CLOCK_H
#define CHAT_CLOCK_H

/* Milliseconds of the monotonic clock (an arbitrary origin: differences
 * only). */
long long clock_mono_ms(void);

/* Microseconds of the monotonic clock. */
long long clock_mono_us(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
long long clock_wall_ms(void);

#endif
