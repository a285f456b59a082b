-- 0002: read markers (unread counts), direct-message rooms, per-room retention.

CREATE TABLE read_markers (
  room_id BIGINT UNSIGNED NOT NULL,
  user_id BIGINT UNSIGNED NOT NULL,
  seq BIGINT UNSIGNED NOT NULL,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (room_id, user_id),
  CONSTRAINT read_markers_room FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE,
  CONSTRAINT read_markers_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- 'direct': the one room of a pair of users (op "dm"), never listed as public.
ALTER TABLE rooms MODIFY visibility ENUM('public','private','direct') NOT NULL DEFAULT 'public';

-- Optional retention, applied in the background by history-svc: keep at most
-- retain_count newest messages and/or none older than retain_days. NULL: keep all.
ALTER TABLE rooms ADD COLUMN retain_count BIGINT UNSIGNED NULL, ADD COLUMN retain_days INT UNSIGNED NULL;
