-- Issue 13: offline notifications. One row per event to POST to CLASSCHAT_WEBHOOK_URL,
-- written before the operation that caused it answers. `body` is the exact JSON sent (and
-- signed). A node claims a due row by setting `lease_until` (PostgreSQL: FOR UPDATE SKIP
-- LOCKED, so two nodes never claim the same row); `lease_token` guards what it writes
-- back. status: 'pending' (to send, or to retry at `next_at`), 'delivered', 'failed'
-- (given up after CLASSCHAT_WEBHOOK_MAX_AGE_SECS: the dead letters admins list).
CREATE TABLE webhook_outbox (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    room_id       TEXT NOT NULL,
    message_id    TEXT,
    body          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    status        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    lease_until   BIGINT,
    lease_token   TEXT,
    last_error    TEXT,
    last_attempt_at BIGINT,
    done_at       BIGINT
);
-- Due rows, and a user's oldest pending row (deliveries go out in order per user).
CREATE INDEX webhook_outbox_due ON webhook_outbox (status, next_at);
CREATE INDEX webhook_outbox_user ON webhook_outbox (user_id, status, created_at, id);
-- The admin view: by status, newest first.
CREATE INDEX webhook_outbox_status ON webhook_outbox (status, created_at DESC, id DESC);
