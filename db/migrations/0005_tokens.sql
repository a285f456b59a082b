-- 0005: login tokens (docs/PROTOCOL.md 1, "Tokens"; docs/ADMIN.md, "Tokens").
-- A token is "ct1.<id>.<secret>": id is the public lookup key, and only the
-- SHA-256 of the secret is kept (hex). The auth plugin loads the tokens that
-- are not revoked into its snapshot, so every change that matters to a login
-- (a new token, a revocation, a new expiry or scope, a deletion) bumps
-- auth_version; last_used alone does not (the plugins write it lazily, and a
-- reload for each use would be a storm).
CREATE TABLE tokens (
  id CHAR(16) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  user_id BIGINT UNSIGNED NOT NULL,
  secret_sha256 CHAR(64) CHARACTER SET ascii NOT NULL,
  label VARCHAR(64) NOT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  last_used TIMESTAMP(3) NULL,
  -- NULL: never expires
  expires_at TIMESTAMP(3) NULL,
  revoked_at TIMESTAMP(3) NULL,
  -- scope: NULL rooms means every room of the user (no scope); otherwise a
  -- comma-separated list of room names the token is limited to, and mode
  -- says which way: 'full' (read and write those rooms), 'publish' (only
  -- post to them, read nothing), 'read' (only read them, post nothing).
  scope_rooms VARCHAR(1100) NULL,
  scope_mode ENUM('full','publish','read') NOT NULL DEFAULT 'full',
  KEY tokens_user (user_id),
  CONSTRAINT tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TRIGGER tokens_ai AFTER INSERT ON tokens FOR EACH ROW UPDATE auth_version SET version = version + 1 WHERE id = 1;
CREATE TRIGGER tokens_au AFTER UPDATE ON tokens FOR EACH ROW
  UPDATE auth_version SET version = version + 1
  WHERE id = 1 AND NOT (OLD.revoked_at <=> NEW.revoked_at AND OLD.expires_at <=> NEW.expires_at
    AND OLD.scope_rooms <=> NEW.scope_rooms AND OLD.scope_mode <=> NEW.scope_mode
    AND OLD.secret_sha256 <=> NEW.secret_sha256 AND OLD.user_id <=> NEW.user_id);
CREATE TRIGGER tokens_ad AFTER DELETE ON tokens FOR EACH ROW UPDATE auth_version SET version = version + 1 WHERE id = 1;
