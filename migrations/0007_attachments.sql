-- Issue 13: forwards and attachments. A forward keeps where it came from in five
-- columns; a message's attachments are kept with it as JSON (what it lists never
-- changes). An upload is a row from the moment its bytes start arriving: a row never
-- attached is swept, with its file, after CLASSCHAT_UPLOAD_ORPHAN_SECS. `upload_rooms`
-- says where an upload was posted: members of those rooms may download it.
ALTER TABLE messages ADD COLUMN forwarded_message_id TEXT;
ALTER TABLE messages ADD COLUMN forwarded_room_id TEXT;
ALTER TABLE messages ADD COLUMN forwarded_sender_id TEXT;
ALTER TABLE messages ADD COLUMN forwarded_sender_name TEXT;
ALTER TABLE messages ADD COLUMN forwarded_created_at BIGINT;
ALTER TABLE messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';

CREATE TABLE uploads (
    id            TEXT PRIMARY KEY,
    uploader_id   TEXT NOT NULL,
    name          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    kind          TEXT NOT NULL,
    size          BIGINT NOT NULL DEFAULT 0,
    duration_ms   BIGINT,
    -- false while the bytes are still arriving.
    complete      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    attached_at   BIGINT
);
CREATE INDEX uploads_unattached ON uploads (created_at) WHERE attached_at IS NULL;

CREATE TABLE upload_rooms (
    upload_id  TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    PRIMARY KEY (upload_id, room_id)
);
CREATE INDEX upload_rooms_by_room ON upload_rooms (room_id);
