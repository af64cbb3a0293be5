#!/usr/bin/env bash
# RFC 6455 conformance suite (Autobahn sections 1–7 and 9 plus the opening handshake): builds the echo example, starts it on a free port, runs every *.test.mjs here under Node's test runner, stops the server; non-zero exit on any failure.
# Usage: crates/socketio-server/conformance/rfc6455/run.sh [test files…]   (RFC6455_REPORTER=spec for one line per case)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
cd "$ROOT"

source "$HERE/../echo.sh"

if [ $# -eq 0 ]; then set -- "$HERE"/*.test.mjs; fi
# One test file at a time: the machine may be small and loaded, and the echo server pings every 300 ms.
PORT=$PORT node --test --test-concurrency=1 --test-reporter="${RFC6455_REPORTER:-dot}" "$@"
