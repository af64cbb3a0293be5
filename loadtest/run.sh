#!/usr/bin/env bash
# One command: start a local cluster (its own redis-server, a fresh PostgreSQL database
# on PG_SERVER or on a throwaway PostgreSQL it starts, N classchat nodes, and with LB=1
# HAProxy in front of three of them; release build) and run a classchat-load scenario.
#
#   bash loadtest/run.sh fanout --rooms 10 --members 1000 --rate 60 --duration 30
#   NODES=1 bash loadtest/run.sh connect --sockets-total 10000 --source-ips 20
#   NODES=3 TASKSET_SERVER=0 TASKSET_LOAD=1 bash loadtest/run.sh fanout ...   (pin with taskset)
#   NODES=3 LB=1 bash loadtest/run.sh fanout ...        (through deploy/haproxy/haproxy.cfg)
#   NODES=3 REDIS_CLUSTER=1 bash loadtest/run.sh fanout ...  (on a 3-master Redis Cluster;
#       per-master sharded pub/sub figures printed REPORT_AT seconds in (default 20) and
#       at the end)
#   CLASSCHAT_SERVER_BIN=/tmp/classchat-old bash loadtest/run.sh ...   (another build)
#   NODES=3 bash loadtest/run.sh meeting-signal --rooms 10 --members 8 --rate 1000,2000,4000
#   NODES=3 bash loadtest/run.sh meeting-storm --members 31 --join-window 2
#   NODES=1 SEED_SQL=loadtest/search/seed.sql bash loadtest/run.sh search --prefix bench --members 1000 --rate 50 --duration 60
#
#   NODES=1 TASKSET_SERVER=0 TASKSET_LOAD=1 bash loadtest/run.sh class-start --rooms 10 --members 1000 --rate 20 --concurrency 200 [--batched]
#
# KEEP_LOGS=dir: the nodes' (and Redis', HAProxy's) logs are copied there at exit.
# SEED_SQL: an SQL file run (psql) on the fresh database after the migrations.
# With NODES=1 and no REDIS=1 the node runs single-node (in-process backplane).
# Rate limits are lifted on the nodes: the scenario decides the load. So is the meeting
# size: MEETING_MAX (default 1000) participants per meeting.
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO="${1:?usage: loadtest/run.sh <connect|fanout|class-start|presence-churn|typing-storm|meeting-signal|meeting-storm|reaction-fanout|upload|search> [classchat-load options]}"
shift
NODES="${NODES:-3}"
SECRET="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"  # HS256: at least 32 bytes
RUN_DIR=$(mktemp -d /tmp/classchat-load.XXXXXX)
source loadtest/lib.sh
ensure_pg

cargo build --release --quiet --workspace
TARGET="${CARGO_TARGET_DIR:-target}/release"
# CLASSCHAT_SERVER_BIN: another classchat build to measure (A/B against this one).
SERVER_BIN="${CLASSCHAT_SERVER_BIN:-$TARGET/classchat}"
new_database "classchat_load_$$"

export CLASSCHAT_JWT_SECRET="$SECRET" DATABASE_URL="$PG_SERVER/$DB" RUST_LOG=warn
lift_rates
export CLASSCHAT_MEETING_MAX_PARTICIPANTS="${MEETING_MAX:-1000}"
# Every simulated user connects from 127.0.0.1, thousands at once: no per-address bound on
# handshakes waiting for their Socket.IO connect.
export CLASSCHAT_MAX_PENDING_HANDSHAKES_PER_IP=1000000
start_redis
"$SERVER_BIN" migrate >/dev/null
if [ -n "${SEED_SQL:-}" ]; then psql "$DATABASE_URL" -q -f "$SEED_SQL" >/dev/null; fi
pins
node_args=()
for i in $(seq 1 "$NODES"); do
  api=127.0.0.1:$(free_port); sock=127.0.0.1:$(free_port); met=127.0.0.1:$(free_port)
  CLASSCHAT_NODE_ID="load-$i" CLASSCHAT_API_ADDR="$api" CLASSCHAT_SOCKET_ADDR="$sock" CLASSCHAT_METRICS_ADDR="$met" \
    CLASSCHAT_DATA_DIR="$RUN_DIR/node-$i" "${server_pin[@]}" "$SERVER_BIN" serve >"$RUN_DIR/node-$i.out" 2>"$RUN_DIR/node-$i.log" &
  pid=$!
  pids+=("$pid")
  node_pids+=("$pid")
  node_args+=(--api "http://$api" --socket "$sock" --server-pid "$pid")
  export "NODE${i}_API=$api" "NODE${i}_SOCKET=$sock"
done
for i in $(seq 1 "$NODES"); do
  for _ in $(seq 1 100); do grep -q listening "$RUN_DIR/node-$i.out" 2>/dev/null && break; sleep 0.1; done
done
start_lb
ulimit -n 20000 2>/dev/null || true
if [ "${REDIS_CLUSTER:-0}" = 1 ]; then
  (sleep "${REPORT_AT:-20}"; echo "=== redis cluster, ${REPORT_AT:-20} s in"; redis_cluster_report) &
fi
"${load_pin[@]}" "$TARGET/classchat-load" "$SCENARIO" "${node_args[@]}" --secret "$SECRET" "$@"
if [ "${REDIS_CLUSTER:-0}" = 1 ]; then
  echo "=== redis cluster, at the end"; redis_cluster_report
  echo "=== rooms: channel, slot, master"
  for id in $(psql "$DATABASE_URL" -Atc "select id from rooms order by created_at"); do
    ch="${CLASSCHAT_REDIS_PREFIX:-classchat}:r:{$id}"
    slot=$(redis-cli -p "${RC_PORTS[0]}" cluster keyslot "$ch")
    echo "$ch $slot $(redis-cli -c -p "${RC_PORTS[0]}" cluster nodes | awk -v s="$slot" '$3 ~ /master/ {for (i = 9; i <= NF; i++) {split($i, r, "-"); if (r[2] == "") r[2] = r[1]; if (s >= r[1] && s <= r[2]) print $2}}')"
  done
fi
