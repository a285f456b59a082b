-- 0004: message operations (issue 13): edits, deletes, reactions, replies,
-- threads, mentions, read receipts for others, room topics, roles, bans.
--
-- Every change to a message (edit, delete, reaction, topic change) is a row
-- of its own in messages with the room's next seq (kind != 'message'), so a
-- client catching up with "after" gets every change, gapless. The changed
-- message's own row is kept current (body, edited_at, deleted_*,
-- reply_count), so scrollback with "before" returns messages as they are now.

ALTER TABLE messages
  ADD COLUMN kind ENUM('message','edit','delete','react','unreact','topic') NOT NULL DEFAULT 'message',
  -- event rows: the seq of the message the event changes (NULL for 'topic')
  ADD COLUMN ref_seq BIGINT UNSIGNED NULL,
  -- message rows: the seq of the message it quotes (a reply)
  ADD COLUMN reply_to BIGINT UNSIGNED NULL,
  -- message rows: the seq of its thread's root message (a thread reply)
  ADD COLUMN thread_root BIGINT UNSIGNED NULL,
  -- message rows: when the body was last edited; NULL if never
  ADD COLUMN edited_at TIMESTAMP(3) NULL,
  -- message rows: when and by whom it was deleted (body then erased to '')
  ADD COLUMN deleted_at TIMESTAMP(3) NULL,
  ADD COLUMN deleted_by BIGINT UNSIGNED NULL,
  -- root rows: how many thread replies, and when the last came
  ADD COLUMN reply_count INT UNSIGNED NOT NULL DEFAULT 0,
  ADD COLUMN last_reply_at TIMESTAMP(3) NULL,
  ADD KEY messages_thread (room_id, thread_root, seq),
  ADD KEY messages_ref (room_id, ref_seq);

-- One row per (message, reaction, user): each user counts once per reaction.
CREATE TABLE reactions (
  room_id BIGINT UNSIGNED NOT NULL,
  seq BIGINT UNSIGNED NOT NULL,
  reaction VARCHAR(32) NOT NULL,
  user_id BIGINT UNSIGNED NOT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (room_id, seq, reaction, user_id),
  CONSTRAINT reactions_room FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE,
  CONSTRAINT reactions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Who a message mentions (members of the room at the time); unread mentions
-- of a room are those with seq above the user's read marker.
CREATE TABLE mentions (
  user_id BIGINT UNSIGNED NOT NULL,
  room_id BIGINT UNSIGNED NOT NULL,
  seq BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (user_id, room_id, seq),
  CONSTRAINT mentions_room FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE,
  CONSTRAINT mentions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- Room topic (short text set by admins; NULL: none).
ALTER TABLE rooms ADD COLUMN topic VARCHAR(400) NULL;

-- Bans: a banned user is removed from the room and cannot join it again
-- until unbanned.
CREATE TABLE room_bans (
  room_id BIGINT UNSIGNED NOT NULL,
  user_id BIGINT UNSIGNED NOT NULL,
  banned_by BIGINT UNSIGNED NULL,
  banned_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (room_id, user_id),
  CONSTRAINT room_bans_room FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE,
  CONSTRAINT room_bans_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- Per-user preferences kept apart from users (a change here must not bump
-- auth_version and reload every broker's snapshot).
CREATE TABLE user_prefs (
  user_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  share_read TINYINT(1) NOT NULL DEFAULT 1,
  CONSTRAINT user_prefs_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB;
