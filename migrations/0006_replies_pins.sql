-- Issue 13: replies are listed by the message they answer; a message may be pinned
-- (who pinned it and when). Pinning and unpinning are changes of the room's change log.
CREATE INDEX messages_reply_to ON messages (reply_to_id, seq);
ALTER TABLE messages ADD COLUMN pinned_at BIGINT;
ALTER TABLE messages ADD COLUMN pinned_by TEXT;
