#!/usr/bin/env bash
# Starts a local three-node classchat cluster on this machine with one command:
# its own redis-server, a PostgreSQL database, three nodes, and HAProxy in front of
# them on the single-node ports (REST :4500, Socket.IO :4501). Ctrl-C stops it all.
#
#   bash deploy/local-cluster.sh            # release build, nodes 1..3
#   NODES_BASE=4600 REDIS_PORT=6390 DATABASE_URL=postgres://… bash deploy/local-cluster.sh
#
# Needs: redis-server, haproxy, psql and a PostgreSQL server (DATABASE_URL, default
# postgres://postgres@127.0.0.1:5432/classchat_cluster, created if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
REDIS_PORT="${REDIS_PORT:-6390}"
NODES_BASE="${NODES_BASE:-4600}"
PG_SERVER="${PG_SERVER:-postgres://postgres@127.0.0.1:5432}"
DB_NAME="${DB_NAME:-classchat_cluster}"
export DATABASE_URL="${DATABASE_URL:-$PG_SERVER/$DB_NAME}"
# The HS256 secret: yours (CLASSCHAT_JWT_SECRET, at least 32 bytes), else one generated on
# the first run into STATE_DIR/jwt-secret (0600) and kept, so tokens outlive a restart.
STATE_DIR="${STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/classchat-local-cluster}"
if [ -z "${CLASSCHAT_JWT_SECRET:-}" ]; then
  mkdir -p "$STATE_DIR" && chmod 700 "$STATE_DIR"
  [ -s "$STATE_DIR/jwt-secret" ] ||
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$STATE_DIR/jwt-secret")
  CLASSCHAT_JWT_SECRET=$(cat "$STATE_DIR/jwt-secret")
  secret_hint="CLASSCHAT_JWT_SECRET=\$(cat $STATE_DIR/jwt-secret)"
else
  secret_hint="CLASSCHAT_JWT_SECRET=<yours>"
fi
export CLASSCHAT_JWT_SECRET
LB_API="${LB_API:-127.0.0.1:4500}"
LB_SOCKET="${LB_SOCKET:-127.0.0.1:4501}"
RUN_DIR=$(mktemp -d /tmp/classchat-cluster.XXXXXX)

for tool in redis-server haproxy psql; do
  command -v "$tool" >/dev/null || { echo "local-cluster: $tool is needed (apt-get install redis-server haproxy postgresql-client)" >&2; exit 1; }
done
cargo build --release --workspace --quiet
BIN="${CARGO_TARGET_DIR:-target}/release/classchat"

psql "$PG_SERVER/postgres" -Atqc "select 1 from pg_database where datname = '$DB_NAME'" | grep -q 1 ||
  psql "$PG_SERVER/postgres" -qc "create database $DB_NAME"

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$RUN_DIR"; }
trap stop EXIT INT TERM

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --logfile "$RUN_DIR/redis.log" &
pids+=($!)
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
"$BIN" migrate

for i in 1 2 3; do
  api=127.0.0.1:$((NODES_BASE + i * 10)); sock=127.0.0.1:$((NODES_BASE + i * 10 + 1)); met=127.0.0.1:$((NODES_BASE + i * 10 + 2))
  # HAProxy (on this machine) forwards the client's address: believe it from there only.
  CLASSCHAT_TRUSTED_PROXIES="${CLASSCHAT_TRUSTED_PROXIES:-127.0.0.1/32}" \
  CLASSCHAT_NODE_ID="node-$i" CLASSCHAT_API_ADDR="$api" CLASSCHAT_SOCKET_ADDR="$sock" CLASSCHAT_METRICS_ADDR="$met" \
    CLASSCHAT_DATA_DIR="$RUN_DIR/node-$i" "$BIN" serve 2>"$RUN_DIR/node-$i.log" &
  pids+=($!)
  export "NODE${i}_API=$api" "NODE${i}_SOCKET=$sock"
  echo "node-$i: REST $api  Socket.IO $sock  metrics http://$met/metrics  log $RUN_DIR/node-$i.log"
done

LB_API_BIND="$LB_API" LB_SOCKET_BIND="$LB_SOCKET" LB_MAXCONN="${LB_MAXCONN:-8000}" \
  haproxy -f deploy/haproxy/haproxy.cfg -db &
pids+=($!)
echo "load balancer: REST http://$LB_API  Socket.IO http://$LB_SOCKET (sticky)"
echo "tokens: $secret_hint $BIN token --sub alice --role teacher"
wait -n "${pids[@]}"
