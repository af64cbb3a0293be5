#!/usr/bin/env bash
# The comparison peer's twin of loadtest/run.sh: start N Node.js + Socket.IO peer nodes
# (loadtest/peers/node-socketio) with their own redis-server and a fresh PostgreSQL
# database, and run the same classchat-load scenario against them.
#
#   bash loadtest/peers/run-node.sh fanout --rooms 10 --members 1000 --rate 60 --duration 30
#   NODES=1 bash loadtest/peers/run-node.sh connect --sockets-total 10000 --source-ips 20
#   NODES=3 TASKSET_SERVER=0 TASKSET_LOAD=1 bash loadtest/peers/run-node.sh fanout ...
#
# NODES (default 3); with NODES=1 and no REDIS=1 the node uses Socket.IO's in-memory
# adapter. PG_SERVER (default postgres://postgres@127.0.0.1:5432), PG_POOL_SIZE (per
# node, default 16 like classchat's CLASSCHAT_DB_MAX_CONNECTIONS), NODE_OPTIONS pass through.
set -euo pipefail
cd "$(dirname "$0")/../.."
SCENARIO="${1:?usage: loadtest/peers/run-node.sh <connect|fanout> [classchat-load options]}"
shift
NODES="${NODES:-3}"
PEER_DIR=loadtest/peers/node-socketio
SECRET="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"  # HS256: at least 32 bytes
RUN_DIR=$(mktemp -d /tmp/classchat-peer-node.XXXXXX)
source loadtest/lib.sh
ensure_pg

LOAD="${CARGO_TARGET_DIR:-target}/release/classchat-load"
[ -x "$LOAD" ] || cargo build --release --quiet -p classchat-load
[ -d "$PEER_DIR/node_modules" ] || (cd "$PEER_DIR" && npm ci --no-audit --no-fund --loglevel=error) >&2

new_database "classchat_peer_node_$$"

export CLASSCHAT_JWT_SECRET="$SECRET" DATABASE_URL="$PG_SERVER/$DB" NODE_ENV=production
start_redis
pins
node_args=()
ulimit -n 20000 2>/dev/null || true
for i in $(seq 1 "$NODES"); do
  api=127.0.0.1:$(free_port); sock=127.0.0.1:$(free_port)
  PEER_NODE_ID="peer-$i" PEER_API_ADDR="$api" PEER_SOCKET_ADDR="$sock" \
    "${server_pin[@]}" node "$PEER_DIR/server.mjs" >"$RUN_DIR/node-$i.out" 2>"$RUN_DIR/node-$i.log" &
  pid=$!
  pids+=("$pid")
  node_pids+=("$pid")
  node_args+=(--api "http://$api" --socket "$sock" --server-pid "$pid")
  export "NODE${i}_API=$api" "NODE${i}_SOCKET=$sock"
done
for i in $(seq 1 "$NODES"); do
  for _ in $(seq 1 100); do grep -q listening "$RUN_DIR/node-$i.out" 2>/dev/null && break; sleep 0.1; done
  if ! grep -q listening "$RUN_DIR/node-$i.out" 2>/dev/null; then
    echo "run-node.sh: peer node $i did not start:" >&2
    cat "$RUN_DIR/node-$i.log" >&2
    exit 1
  fi
done
start_lb
"${load_pin[@]}" "$LOAD" "$SCENARIO" "${node_args[@]}" --secret "$SECRET" "$@"
