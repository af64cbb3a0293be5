-- Seeds the search benchmark (docs/BENCHMARKS.md#search) into an empty, migrated
-- classchat database: 1,000 group rooms, 1,000 users each a member of 10 rooms (10 per
-- room), 1,000,000 messages of 8 to 15 words (1,000 per room). Words are w + three
-- letters (waaa, waab, …) for index 0..3999, drawn skewed (index = 4000 * random()^2.5):
-- waaa is in about a third of the messages, an index near 2000 in about 0.2 %.
-- classchat-load's search scenario asks for the same words.
\set ON_ERROR_STOP on
SET maintenance_work_mem = '512MB';
CREATE OR REPLACE FUNCTION pg_temp.bench_word(i int) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT 'w' || chr(97 + i / 676 % 26) || chr(97 + i / 26 % 26) || chr(97 + i % 26) $$;

INSERT INTO users (id, name, role, created_at)
SELECT 'bench-u' || u, 'User ' || u, 'student', 0 FROM generate_series(0, 999) u;

INSERT INTO rooms (id, kind, name, created_by, created_at, last_seq, last_activity_at)
SELECT 'bench-r' || r, 'group', 'Room ' || r, 'bench-t', 0, 1000, 0 FROM generate_series(0, 999) r;

INSERT INTO room_members (room_id, user_id, room_role, joined_at)
SELECT 'bench-r' || ((u + 100 * j) % 1000), 'bench-u' || u, 'member', 0
FROM generate_series(0, 999) u, generate_series(0, 9) j;

INSERT INTO messages (id, room_id, seq, sender_id, sender_name, content, mentions, created_at)
SELECT md5('bench-m' || i), 'bench-r' || (i % 1000), i / 1000 + 1,
       'bench-u' || (i % 1000), 'User', 
       (SELECT string_agg(pg_temp.bench_word(floor(4000 * power(random(), 2.5))::int), ' ')
        FROM generate_series(1, 8 + i % 8) AS g WHERE i >= 0),
       '[]', 1700000000000 + i::bigint * 1000
FROM generate_series(0, 999999) AS i;

-- What classchat's start-up would make (Store::prepare_search, language simple).
CREATE INDEX IF NOT EXISTS messages_search_simple ON messages
    USING GIN (to_tsvector('simple'::regconfig, content));
ANALYZE;
