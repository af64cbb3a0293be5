#!/usr/bin/env bash
# schemathesis against live nodes: starts `classchat serve` ($CLASSCHAT_BIN) on free
# ports with a temp data dir, mints an admin token, makes rooms, messages, a reaction, a
# pin and an upload so that real ids exist, then runs `schemathesis run …/openapi.json`
# with the token on every operation of the document. Checks: no 5xx, and every status,
# content type and body as the document says. Once on SQLite, and once more on a fresh
# PostgreSQL database when CLASSCHAT_TEST_PG_URL answers. Fails on any failure.
#   CLASSCHAT_SCHEMATHESIS  the schemathesis executable (tests/run.sh installs it)
#   CLASSCHAT_BIN           the server binary (default target/debug/classchat)
#   SCHEMATHESIS_EXAMPLES   examples per operation and database (default 60)
#   SCHEMATHESIS_SEED       the seed (default random; printed, to replay a failure)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="${CLASSCHAT_BIN:-$PWD/target/debug/classchat}"
ST="${CLASSCHAT_SCHEMATHESIS:-/var/tmp/classchat-tools/schemathesis/bin/schemathesis}"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-60}"
SEED="${SCHEMATHESIS_SEED:-$RANDOM}"
[ -x "$BIN" ] || { echo "no server binary at $BIN (cargo build)"; exit 1; }
[ -x "$ST" ] || { echo "no schemathesis at $ST (tests/run.sh installs it)"; exit 1; }

WORK=$(mktemp -d /tmp/classchat-schemathesis.XXXXXX)
PID=""
PG_DB=""
stop_node() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  PID=""
}
cleanup() {
  stop_node
  [ -z "$PG_DB" ] || psql "$CLASSCHAT_TEST_PG_URL/postgres" -qc "drop database if exists $PG_DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
# Every per-user rate out of the way (as LIFTED_RATES in tests/e2e/lib/server.mjs), and
# the per-address send rate: a run makes thousands of calls from one address.
RATES=()
for kind in SEND TYPING CONNECT STATUS ROOM_CREATE MEMBER_ADD ONLINE_USERS UPLOAD SEARCH MEETING SIGNAL; do
  RATES+=("CLASSCHAT_RATE_${kind}_PER_SEC=100000" "CLASSCHAT_RATE_${kind}_BURST=100000")
done
RATES+=(CLASSCHAT_RATE_SEND_PER_SEC_PER_IP=100000 CLASSCHAT_RATE_SEND_BURST_PER_IP=100000)

# fuzz LABEL [DATABASE_URL]: one node, its data, one schemathesis run.
fuzz() {
  local label=$1 db=${2:-} dir="$WORK/$1"
  mkdir -p "$dir"
  local dbenv=(-u DATABASE_URL)
  [ -z "$db" ] || dbenv=("DATABASE_URL=$db")
  env -u REDIS_URL "${dbenv[@]}" "${RATES[@]}" \
    CLASSCHAT_API_ADDR=127.0.0.1:0 CLASSCHAT_SOCKET_ADDR=127.0.0.1:0 CLASSCHAT_METRICS_ADDR=127.0.0.1:0 \
    CLASSCHAT_DATA_DIR="$dir/data" CLASSCHAT_JWT_SECRET="$SECRET" CLASSCHAT_NODE_ID=schemathesis \
    RUST_LOG="${RUST_LOG:-warn}" "$BIN" serve >"$dir/stdout" 2>"$dir/stderr" &
  PID=$!
  local api="" metrics=""
  for _ in $(seq 1 600); do
    api=$(sed -n 's/^classchat listening api=\([^ ]*\) .*/\1/p' "$dir/stdout")
    metrics=$(sed -n 's/^classchat listening .* metrics=\([^ ]*\).*/\1/p' "$dir/stdout")
    [ -n "$api" ] && break
    kill -0 "$PID" 2>/dev/null || { cat "$dir/stderr"; echo "classchat exited"; exit 1; }
    sleep 0.1
  done
  [ -n "$api" ] || { cat "$dir/stderr"; echo "classchat did not start"; exit 1; }
  local base="http://$api"
  local admin student
  admin=$("$BIN" token --sub fuzz-admin --role admin --name "Fuzz Admin" --jwt-secret "$SECRET")
  student=$("$BIN" token --sub fuzz-student --role student --jwt-secret "$SECRET")
  call() { # call TOKEN METHOD PATH [curl args…]: the response's data.id
    local t=$1 m=$2 p=$3; shift 3
    curl -sf -X "$m" "$base$p" -H "Authorization: Bearer $t" "$@" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["data"].get("id", ""))'
  }
  local js=(-H 'content-type: application/json')
  local room personal upload message reply
  room=$(call "$admin" POST /chat/rooms/group "${js[@]}" -d '{"name":"Fuzz room","memberIds":["fuzz-student"]}')
  personal=$(call "$student" POST /chat/rooms/personal "${js[@]}" -d '{"userId":"fuzz-admin"}')
  upload=$(call "$admin" POST /chat/uploads -H 'content-type: text/plain' -H 'x-filename: notes.txt' \
    --data-binary 'some notes to fuzz with')
  message=$(call "$admin" POST "/chat/rooms/$room/messages" "${js[@]}" \
    -d "{\"content\":\"hello fuzz\",\"attachmentIds\":[\"$upload\"]}")
  reply=$(call "$student" POST "/chat/rooms/$room/messages" "${js[@]}" \
    -d "{\"content\":\"a reply\",\"replyToId\":\"$message\"}")
  call "$admin" PUT "/chat/rooms/$room/messages/$message/reactions/%F0%9F%91%8D" >/dev/null
  call "$admin" PUT "/chat/rooms/$room/pins/$message" >/dev/null
  call "$admin" POST "/chat/rooms/$room/meeting" >/dev/null

  # Path parameters: mostly these real ids (so operations get past their 404s),
  # sometimes generated ones.
  cat >"$dir/schemathesis.toml" <<TOML
headers = { Authorization = "Bearer $admin" }

[dictionaries.rooms]
values = ["$room", "$personal"]
[dictionaries.messages]
values = ["$message", "$reply"]
[dictionaries.users]
values = ["fuzz-admin", "fuzz-student"]
[dictionaries.uploads]
values = ["$upload"]
[dictionaries.emoji]
values = ["👍", "🎉"]

[parameters]
"path.roomId" = { dictionary = "rooms", probability = 0.8 }
"path.messageId" = { dictionary = "messages", probability = 0.8 }
"path.userId" = { dictionary = "users", probability = 0.8 }
"path.uploadId" = { dictionary = "uploads", probability = 0.8 }
"path.emoji" = { dictionary = "emoji", probability = 0.5 }
TOML

  echo "== $label: node at $base; schemathesis $("$ST" --version | awk '{print $NF}'), $EXAMPLES examples per operation, seed $SEED"
  local rc=0
  # One worker: hypothesis's lambda descriptions are not thread-safe on every Python.
  # Run in the temp dir: schemathesis keeps its cache in the current directory.
  (cd "$dir" && "$ST" --config-file "$dir/schemathesis.toml" run "$base/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$EXAMPLES" --seed "$SEED" --workers 1 --max-redirects 0 --request-timeout 10 \
    --generation-database none --no-color) 2>&1 | tee "$dir/out.txt" || rc=${PIPESTATUS[0]}
  # What the node answered, by status (its own request counter).
  curl -sf "http://$metrics/metrics" | python3 -c '
import re, sys, collections
n = collections.Counter()
for line in sys.stdin:
    m = re.match(r"classchat_http_requests_total\{.*status=\"(\d+)\".*\} (\d+)", line)
    if m:
        n[m.group(1)] += int(m.group(2))
print("responses by status:", ", ".join(f"{s}: {c}" for s, c in sorted(n.items())))
' || true
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "classchat died during the run"; tail -50 "$dir/stderr"; exit 1
  fi
  if grep -q "panicked" "$dir/stderr"; then
    echo "classchat panicked during the run:"; grep -A5 panicked "$dir/stderr" | head -40; exit 1
  fi
  stop_node
  [ "$rc" = 0 ] || { echo "$label: schemathesis found failures (exit $rc); replay with SCHEMATHESIS_SEED=$SEED"; exit "$rc"; }
  echo "$label: no failures"
}

fuzz sqlite
if [ -n "${CLASSCHAT_TEST_PG_URL:-}" ] && command -v psql >/dev/null &&
  psql "$CLASSCHAT_TEST_PG_URL/postgres" -Atqc 'select 1' >/dev/null 2>&1; then
  PG_DB="classchat_test_st_$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
  psql "$CLASSCHAT_TEST_PG_URL/postgres" -qc "create database $PG_DB" >/dev/null
  fuzz postgres "$CLASSCHAT_TEST_PG_URL/$PG_DB"
else
  echo "PostgreSQL not reachable (CLASSCHAT_TEST_PG_URL): the SQLite run only"
fi
