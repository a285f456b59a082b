-- 0006: push-svc (issue 14, section 3): Web Push subscriptions, what each
-- owes, and what it sent. docs/ARCHITECTURE.md ("push-svc") explains the flow.

-- A device's Web Push subscription (RFC 8030/8291): where to POST and the
-- keys to encrypt for. One row per (user, endpoint): subscribing again with
-- the same endpoint replaces keys and choices.
CREATE TABLE push_subscriptions (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT UNSIGNED NOT NULL,
  endpoint VARCHAR(1024) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  p256dh VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  auth VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  -- mentions: direct messages and mentions; all: those and every message
  -- of the rooms in push_subscription_rooms; none: nothing
  wake ENUM('mentions','all','none') NOT NULL DEFAULT 'mentions',
  preview TINYINT(1) NOT NULL DEFAULT 0,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY push_subscriptions_endpoint (user_id, endpoint),
  CONSTRAINT push_subscriptions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- The rooms a wake=all subscription wants every message of.
CREATE TABLE push_subscription_rooms (
  sub_id BIGINT UNSIGNED NOT NULL,
  room_id BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (sub_id, room_id),
  KEY push_subscription_rooms_room (room_id),
  CONSTRAINT push_subscription_rooms_sub FOREIGN KEY (sub_id) REFERENCES push_subscriptions (id) ON DELETE CASCADE,
  CONSTRAINT push_subscription_rooms_room FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- Per room: the highest seq push-svc has turned into push_state rows. Moved
-- in the same transaction as those rows, so a message is counted once,
-- and a room whose last_seq is beyond it is scanned at start.
CREATE TABLE push_cursor (
  room_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  seq BIGINT UNSIGNED NOT NULL,
  CONSTRAINT push_cursor_room FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE
) ENGINE=InnoDB;
-- Existing rooms start at their current end: installing push-svc does not
-- push old messages.
INSERT INTO push_cursor (room_id, seq) SELECT id, last_seq FROM rooms;

-- Per (subscription, room): messages owed a push (pending_count of them,
-- pending_from_seq..pending_to_seq), when the next push may go (due_ms,
-- ms since the epoch: the coalescing window or a retry's backoff), and
-- what was last sent.
CREATE TABLE push_state (
  sub_id BIGINT UNSIGNED NOT NULL,
  room_id BIGINT UNSIGNED NOT NULL,
  pending_count INT NOT NULL DEFAULT 0,
  pending_from_seq BIGINT UNSIGNED NOT NULL DEFAULT 0,
  pending_to_seq BIGINT UNSIGNED NOT NULL DEFAULT 0,
  urgent TINYINT(1) NOT NULL DEFAULT 0,
  due_ms BIGINT NOT NULL DEFAULT 0,
  attempts INT NOT NULL DEFAULT 0,
  sent_to_seq BIGINT UNSIGNED NOT NULL DEFAULT 0,
  last_sent_ms BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (sub_id, room_id),
  KEY push_state_due (pending_count, due_ms),
  CONSTRAINT push_state_sub FOREIGN KEY (sub_id) REFERENCES push_subscriptions (id) ON DELETE CASCADE,
  CONSTRAINT push_state_room FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- Every push a push service accepted (2xx), per (subscription, room, seq
-- range). Rows older than 7 days are deleted by push-svc.
CREATE TABLE push_log (
  sub_id BIGINT UNSIGNED NOT NULL,
  room_id BIGINT UNSIGNED NOT NULL,
  from_seq BIGINT UNSIGNED NOT NULL,
  to_seq BIGINT UNSIGNED NOT NULL,
  count INT NOT NULL,
  status SMALLINT NOT NULL,
  sent_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (sub_id, room_id, to_seq),
  KEY push_log_sent (sent_at),
  CONSTRAINT push_log_sub FOREIGN KEY (sub_id) REFERENCES push_subscriptions (id) ON DELETE CASCADE
) ENGINE=InnoDB;
