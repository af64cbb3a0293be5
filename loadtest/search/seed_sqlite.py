"""The search benchmark's data (seed.sql) in a classchat SQLite file: 1,000 rooms, 1,000
users each in 10 rooms, N messages (default 1,000,000) of the same skewed vocabulary.
Room ids are 32 hex digits, as classchat makes them (one FTS5 token each). Run it on
the classchat.db of a node started once and stopped (so the schema and the search
triggers exist); the triggers index the messages as they go in.

    python3 loadtest/search/seed_sqlite.py DATA_DIR/classchat.db [N]
"""
import hashlib
import random
import sqlite3
import sys
import time

path = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
db = sqlite3.connect(path)


def word(i):
    return "w" + chr(97 + i // 676 % 26) + chr(97 + i // 26 % 26) + chr(97 + i % 26)


def room(r):
    return hashlib.md5(f"bench-r{r}".encode()).hexdigest()


t0 = time.time()
db.executemany(
    "INSERT INTO users (id, name, role, created_at) VALUES (?, ?, 'student', 0)",
    [(f"bench-u{u}", f"User {u}") for u in range(1000)],
)
db.executemany(
    "INSERT INTO rooms (id, kind, name, created_by, created_at, last_seq, last_activity_at)"
    " VALUES (?, 'group', ?, 'bench-t', 0, ?, 0)",
    [(room(r), f"Room {r}", n // 1000) for r in range(1000)],
)
db.executemany(
    "INSERT INTO room_members (room_id, user_id, room_role, joined_at) VALUES (?, ?, 'member', 0)",
    [(room((u + 100 * j) % 1000), f"bench-u{u}") for u in range(1000) for j in range(10)],
)
rows = (
    (
        hashlib.md5(f"bench-m{i}".encode()).hexdigest(),
        room(i % 1000),
        i // 1000 + 1,
        f"bench-u{i % 1000}",
        "User",
        " ".join(word(int(4000 * random.random() ** 2.5)) for _ in range(8 + i % 8)),
        1700000000000 + i * 1000,
    )
    for i in range(n)
)
db.executemany(
    "INSERT INTO messages (id, room_id, seq, sender_id, sender_name, content, mentions, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, '[]', ?)",
    rows,
)
db.commit()
print(f"{n} messages in {time.time() - t0:.1f} s")
