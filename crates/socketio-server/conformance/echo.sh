#!/usr/bin/env bash
# Sourced by the conformance runners: builds the crate's echo example and starts it on a
# free port (the example binds port 0 and prints the port it got). Sets PORT; the server
# is stopped when the sourcing script exits.
ECHO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
(cd "$ECHO_ROOT" && cargo build -q -p socketio-server --example echo)
ECHO_LOG=$(mktemp /tmp/socketio-echo.XXXXXX)
PORT=0 "${CARGO_TARGET_DIR:-$ECHO_ROOT/target}/debug/examples/echo" 2>"$ECHO_LOG" &
ECHO_PID=$!
stop_echo() {
  kill "$ECHO_PID" 2>/dev/null || true
  wait "$ECHO_PID" 2>/dev/null || true
  rm -f "$ECHO_LOG"
}
trap stop_echo EXIT
PORT=""
for _ in $(seq 1 300); do
  PORT=$(sed -n 's/^echo listening on .*:\([0-9]\+\)$/\1/p' "$ECHO_LOG")
  [ -n "$PORT" ] && break
  kill -0 "$ECHO_PID" 2>/dev/null || { cat "$ECHO_LOG" >&2; echo "echo server exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$PORT" ] || { cat "$ECHO_LOG" >&2; echo "echo server did not start" >&2; exit 1; }
