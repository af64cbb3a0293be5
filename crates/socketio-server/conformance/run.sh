#!/usr/bin/env bash
# Runs the official socket.io-protocol test suite (vendored in socket.io-protocol/)
# against the crate's echo example: builds it, starts it on a free port, installs the
# suite with `npm ci` and runs it with mocha. Exits non-zero unless every test passes.
# Needs cargo, node (18+) and npm; RUNS=N repeats the suite N times against one server.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SUITE="$HERE/socket.io-protocol"
RUNS="${RUNS:-1}"

(cd "$SUITE" && npm ci --no-audit --no-fund --loglevel=error)
source "$HERE/echo.sh"

for i in $(seq 1 "$RUNS"); do
  [ "$RUNS" = 1 ] || echo "== run $i of $RUNS"
  (cd "$SUITE" && URL="http://127.0.0.1:$PORT" ./node_modules/.bin/mocha test-suite.js)
done
