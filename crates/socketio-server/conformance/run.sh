#!/usr/bin/env bash
# Runs the official socket.io-protocol test suite (vendored in socket.io-protocol/)
# against the crate's echo example: builds it, starts it on a free port, installs the
# suite with `npm ci` and runs it with mocha. Exits non-zero unless every test passes.
# Needs cargo, node (18+) and npm; RUNS=N repeats the suite N times against one server.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
SUITE="$HERE/socket.io-protocol"
RUNS="${RUNS:-1}"

cd "$ROOT"
cargo build -q -p socketio-server --example echo
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
ECHO_BIN="$TARGET_DIR/debug/examples/echo"

(cd "$SUITE" && npm ci --no-audit --no-fund --loglevel=error)

LOG=$(mktemp)
PORT=0 "$ECHO_BIN" 2>"$LOG" &
SERVER=$!
stop() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -f "$LOG"
}
trap stop EXIT

# The example binds port 0 and prints the port it got.
PORT=""
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/^echo listening on .*:\([0-9]\+\)$/\1/p' "$LOG")
  [ -n "$PORT" ] && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$LOG"; echo "echo server exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$PORT" ] || { cat "$LOG"; echo "echo server did not start" >&2; exit 1; }

for i in $(seq 1 "$RUNS"); do
  [ "$RUNS" = 1 ] || echo "== run $i of $RUNS"
  (cd "$SUITE" && URL="http://127.0.0.1:$PORT" ./node_modules/.bin/mocha test-suite.js)
done
