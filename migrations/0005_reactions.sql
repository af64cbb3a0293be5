-- Issue 13: reactions, one per user per emoji and message. A reaction added or removed is
-- also a change of the room's change log (`detail`: the emoji, the action and the count
-- after it), so it is delivered, healed and replayed in order with edits and deletions.
CREATE TABLE message_reactions (
    message_id  TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    emoji       TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);
ALTER TABLE room_changes ADD COLUMN detail TEXT;
