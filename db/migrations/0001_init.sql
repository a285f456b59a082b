-- 0001_init.sql: users, rooms, memberships, messages, and the change counter
-- the auth plugin polls. Applied once by scripts/migrate.sh, which records it
-- in schema_migrations.

CREATE TABLE users (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  username VARCHAR(32) NOT NULL,
  pw_hash VARCHAR(160) NOT NULL,
  role ENUM('user','service','bridge','admin') NOT NULL DEFAULT 'user',
  disabled TINYINT(1) NOT NULL DEFAULT 0,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY users_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE rooms (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(64) NOT NULL,
  visibility ENUM('public','private') NOT NULL DEFAULT 'public',
  last_seq BIGINT UNSIGNED NOT NULL DEFAULT 0,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY rooms_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE room_members (
  room_id BIGINT UNSIGNED NOT NULL,
  user_id BIGINT UNSIGNED NOT NULL,
  role ENUM('member','admin') NOT NULL DEFAULT 'member',
  joined_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (room_id, user_id),
  KEY room_members_user (user_id),
  CONSTRAINT room_members_room FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE,
  CONSTRAINT room_members_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- seq is gapless per room: assigned under the room row's lock from
-- rooms.last_seq in the same transaction as the insert. (room, sender,
-- client id) is unique, so a redelivered or bridge-duplicated message is
-- refused by the key instead of getting a second row.
CREATE TABLE messages (
  room_id BIGINT UNSIGNED NOT NULL,
  seq BIGINT UNSIGNED NOT NULL,
  msg_id VARCHAR(64) NOT NULL,
  sender_id BIGINT UNSIGNED NOT NULL,
  body TEXT NOT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (room_id, seq),
  UNIQUE KEY messages_client_id (room_id, sender_id, msg_id),
  CONSTRAINT messages_room FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE,
  CONSTRAINT messages_sender FOREIGN KEY (sender_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE last_seen (
  user_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  seen_at TIMESTAMP(3) NOT NULL,
  CONSTRAINT last_seen_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- One row whose version moves on every change to users or room_members.
-- The auth plugin on every node polls it and reloads when it moves.
CREATE TABLE auth_version (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  version BIGINT UNSIGNED NOT NULL
) ENGINE=InnoDB;
INSERT INTO auth_version (id, version) VALUES (1, 1);

CREATE TRIGGER users_ai AFTER INSERT ON users FOR EACH ROW UPDATE auth_version SET version = version + 1 WHERE id = 1;
CREATE TRIGGER users_au AFTER UPDATE ON users FOR EACH ROW UPDATE auth_version SET version = version + 1 WHERE id = 1;
CREATE TRIGGER users_ad AFTER DELETE ON users FOR EACH ROW UPDATE auth_version SET version = version + 1 WHERE id = 1;
CREATE TRIGGER members_ai AFTER INSERT ON room_members FOR EACH ROW UPDATE auth_version SET version = version + 1 WHERE id = 1;
CREATE TRIGGER members_au AFTER UPDATE ON room_members FOR EACH ROW UPDATE auth_version SET version = version + 1 WHERE id = 1;
CREATE TRIGGER members_ad AFTER DELETE ON room_members FOR EACH ROW UPDATE auth_version SET version = version + 1 WHERE id = 1;
-- Foreign-key cascades fire no triggers: deleting a room must bump too.
CREATE TRIGGER rooms_ad AFTER DELETE ON rooms FOR EACH ROW UPDATE auth_version SET version = version + 1 WHERE id = 1;

-- The room every demo and new user can find.
INSERT INTO rooms (name, visibility) VALUES ('lobby', 'public');
