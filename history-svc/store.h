/* store.h: storing one room message exactly once with a gapless seq. */
#ifndef HISTORY_STORE_H
#define HISTORY_STORE_H

#include <stddef.h>

#include "history.h"

/* Handles one message published on chat/v1/rooms/{room}/msg/{sender}:
 * validates the payload, stores it (or finds it already stored), and sends
 * the sender a receipt or an error on their inbox. Returns 1 when the
 * message is dealt with (stored, a duplicate, or refused with an error
 * reply), 0 when it must be kept and offered again because MariaDB cannot
 * be reached. */
int store_handle_message(struct history_svc *svc, const char *room, const char *sender,
		const void *payload, size_t len);

#endif
