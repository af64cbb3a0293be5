-- Per-room change log: what happened to stored messages (deletions; later edits and
-- reactions), numbered per room like messages, so a node or a client that missed a
-- change live can read it back in order.
ALTER TABLE rooms ADD COLUMN last_change BIGINT NOT NULL DEFAULT 0;

CREATE TABLE room_changes (
    room_id     TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    -- 1, 2, 3, … per room; allocated from rooms.last_change under the room's row lock.
    change_seq  BIGINT NOT NULL,
    -- "deleted" (the only kind at this revision).
    kind        TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    by_user     TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (room_id, change_seq)
);
