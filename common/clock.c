/* clock.c: monotonic and wall clocks in the units the code uses. */
#include "clock.h"

#include <time.h>

static long long read_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000L;
}

long long clock_mono_ms(void)
{
	return read_us(CLOCK_MONOTONIC) / 1000LL;
}

long long clock_mono_us(void)
{
	return read_us(CLOCK_MONOTONIC);
}

long long clock_wall_ms(void)
{
	return read_us(CLOCK_REALTIME) / 1000LL;
}
