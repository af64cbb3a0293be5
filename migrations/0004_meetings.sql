-- Issue 12: meetings (video calls) of a room, and their attendance. A room runs at most
-- one meeting at a time (the partial unique index), cluster-wide.
CREATE TABLE meetings (
    id          TEXT PRIMARY KEY,
    room_id     TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    title       TEXT,
    started_by  TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    ended_at    BIGINT,
    ended_by    TEXT,
    end_reason  TEXT
);
CREATE UNIQUE INDEX meetings_running ON meetings (room_id) WHERE ended_at IS NULL;
CREATE INDEX meetings_by_room ON meetings (room_id, started_at DESC, id DESC);

-- One row per stint of one peer (a socket) in a meeting: joined, then left (NULL while in).
CREATE TABLE meeting_attendance (
    meeting_id  TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    peer_id     TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    name        TEXT,
    joined_at   BIGINT NOT NULL,
    left_at     BIGINT,
    PRIMARY KEY (meeting_id, peer_id)
);
