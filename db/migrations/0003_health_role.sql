-- 0003: the 'health' role, the account the per-node health agents log in
-- with (docs/ADMIN.md, "Health check"): it may use only its own probe topic
-- chat/v1/sys/health/{node}/{its name} and reads no chat.
ALTER TABLE users MODIFY role ENUM('user','service','bridge','admin','health') NOT NULL DEFAULT 'user';
