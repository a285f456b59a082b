-- 0007: full-text search over message bodies (issue 13, op "search").
--
-- InnoDB FULLTEXT matches by the column's collation, and messages.body
-- was utf8mb4_bin: a binary collation makes the index case-sensitive
-- ("Hello" would not find "hello"). The body's collation becomes a
-- case-insensitive one (utf8mb4_unicode_520_ci). The stored bytes do not
-- change, nothing compares bodies, and no second copy of every body (a
-- stored generated column) is needed.
--
-- Stopwords are turned off for this index (the setting is taken when the
-- index is created): with InnoDB's default list, a search for "when" or
-- "about" would find nothing. innodb_ft_min_token_size stays at its
-- default 3: words of 1-2 characters are not indexed, and search needs a
-- word of 3 or more (docs/PROTOCOL.md 4.6).
--
-- The default parser splits words at spaces and punctuation. Text without
-- spaces between words (Chinese, Japanese) is one long "word" to it: such
-- text is found only by a query that is that whole run. Word search in CJK
-- text needs the Mroonga engine (Debian's mariadb-plugin-mroonga); MariaDB
-- has no InnoDB ngram parser.
--
-- messages_created orders all messages by time: search's recent scan walks
-- it newest first across the requester's rooms, which answers a common
-- word without fetching every message that holds it (history-svc/search.c).
SET SESSION innodb_ft_enable_stopword = 0;

ALTER TABLE messages
  MODIFY body TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci NOT NULL,
  ADD FULLTEXT INDEX messages_body_ft (body),
  ADD KEY messages_created (created_at);
