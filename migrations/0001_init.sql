-- classchat schema: portable SQL that runs unchanged on PostgreSQL and SQLite.
-- Times are Unix milliseconds (BIGINT); ids are opaque text.

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    name        TEXT,
    role        TEXT,
    last_seen   BIGINT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE rooms (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    name              TEXT,
    -- "len:a|b" of the sorted user pair, for 1:1 rooms only: one room per pair.
    personal_key      TEXT UNIQUE,
    created_by        TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    -- Last allocated per-room sequence number; bumped under the row lock.
    last_seq          BIGINT NOT NULL DEFAULT 0,
    last_activity_at  BIGINT NOT NULL
);

CREATE TABLE room_members (
    room_id        TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL,
    room_role      TEXT NOT NULL,
    last_read_seq  BIGINT NOT NULL DEFAULT 0,
    last_read_at   BIGINT,
    joined_at      BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
-- A user's rooms (room list, contacts, membership checks by user).
CREATE INDEX room_members_by_user ON room_members (user_id, room_id);

CREATE TABLE messages (
    id                 TEXT PRIMARY KEY,
    room_id            TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    seq                BIGINT NOT NULL,
    sender_id          TEXT NOT NULL,
    sender_name        TEXT NOT NULL,
    content            TEXT,
    client_message_id  TEXT,
    reply_to_id        TEXT,
    mentions           TEXT NOT NULL DEFAULT '[]',
    created_at         BIGINT NOT NULL,
    edited_at          BIGINT,
    deleted_at         BIGINT,
    deleted_by         TEXT
);
-- History paging by cursor, last message per room, unread counts.
CREATE UNIQUE INDEX messages_room_seq ON messages (room_id, seq);
-- Idempotent sends: one message per (sender, clientMessageId).
CREATE UNIQUE INDEX messages_sender_client_id ON messages (sender_id, client_message_id)
    WHERE client_message_id IS NOT NULL;
-- Room list ordering.
CREATE INDEX rooms_by_activity ON rooms (last_activity_at, id);
