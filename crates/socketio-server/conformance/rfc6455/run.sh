#!/usr/bin/env bash
# RFC 6455 conformance suite (Autobahn sections 1–7 and 9 plus the opening handshake): builds the echo example, starts it on a free port, runs every *.test.mjs here under Node's test runner, stops the server; non-zero exit on any failure.
# Usage: crates/socketio-server/conformance/rfc6455/run.sh [test files…]   (RFC6455_REPORTER=spec for one line per case)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
cd "$ROOT"

cargo build -q -p socketio-server --example echo
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG=$(mktemp /tmp/rfc6455-echo.XXXXXX)
PORT=$PORT "$TARGET_DIR/debug/examples/echo" 2>"$LOG" &
SERVER=$!
stop() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -f "$LOG"
}
trap stop EXIT

# The server is up once it says so (it binds before printing).
for _ in $(seq 300); do
  grep -q 'listening' "$LOG" && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$LOG" >&2; echo "echo server exited" >&2; exit 1; }
  sleep 0.1
done
grep -q 'listening' "$LOG" || { echo "echo server did not start" >&2; exit 1; }

if [ $# -eq 0 ]; then set -- "$HERE"/*.test.mjs; fi
# One test file at a time: the machine may be small and loaded, and the echo server pings every 300 ms.
PORT=$PORT node --test --test-concurrency=1 --test-reporter="${RFC6455_REPORTER:-dot}" "$@"
