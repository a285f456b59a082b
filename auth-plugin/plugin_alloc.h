/* plugin_alloc.h: the allocator for plugin state that only the broker
 * thread touches. Inside the broker it is mosquitto_calloc/mosquitto_free (so
 * the broker's memory accounting and limits see it); unit tests, which run
 * without a broker, build with -DPLUGIN_ALLOC_LIBC to use calloc/free. */
#ifndef AUTH_PLUGIN_ALLOC_H
#define AUTH_PLUGIN_ALLOC_H

#include <stddef.h>

#ifdef PLUGIN_ALLOC_LIBC
#include <stdlib.h>
#define plugin_calloc(n, size) calloc((n), (size))
#define plugin_free(p) free(p)
#else
#include <mosquitto_broker.h>
#define plugin_calloc(n, size) mosquitto_calloc((n), (size))
#define plugin_free(p) mosquitto_free(p)
#endif

#endif
