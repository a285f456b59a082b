/* stored_feed.h: the wake-up hint history-svc publishes after each commit
 * on chat/v1/sys/stored (QoS 1, services only; docs/PROTOCOL.md 3.6):
 * {"room","from_seq","to_seq"} per room of the batch. push-svc scans the
 * room in MariaDB when it gets one; a lost hint only delays that until its
 * next scan (the database is the truth). */
#ifndef HISTORY_STORED_FEED_H
#define HISTORY_STORED_FEED_H

#include "history.h"
#include "intake_log.h"
#include "store.h"

/* Publishes one hint per room for the messages of msgs[0..n) that
 * results says were newly stored. Call after the batch's COMMIT. */
void stored_feed_publish(struct history_svc *svc, struct intake_msg *const *msgs,
		const struct store_result *results, int n);

#endif
