-- Issue 11 #7: a member of a 1:1 room may block it. The other user is removed from the
-- room and cannot reopen it (nor be added back) while the block stands.
CREATE TABLE room_blocks (
    room_id     TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    blocker_id  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (room_id, blocker_id)
);
