# Shared by loadtest/run.sh and loadtest/peers/run-node.sh (sourced): a PostgreSQL server
# and, with LB=1, HAProxy in front of three nodes.

# Everything started is stopped at exit (see cleanup); the nodes (node_pids) first, so
# that what they do while shutting down still finds Redis and PostgreSQL.
pids=()
node_pids=()
DB=""
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Sets PG_SERVER to a PostgreSQL server that answers: the one given (default
# 127.0.0.1:5432), else a throwaway cluster on a free port (stopped by stop_pg).
# PG_TMPFS=1: always a throwaway cluster, in /dev/shm, so the figures measure the chat
# servers and not this machine's disk (commits stay durable to PostgreSQL, fsync is on,
# but memory takes it in microseconds).
PG_TMP=""
ensure_pg() {
  PG_SERVER="${PG_SERVER:-postgres://postgres@127.0.0.1:5432}"
  if [ "${PG_TMPFS:-0}" != 1 ] && psql "$PG_SERVER/postgres" -Atqc 'select 1' >/dev/null 2>&1; then
    return
  fi
  local initdb
  initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n1)
  [ -n "$initdb" ] || { echo "loadtest: no PostgreSQL at $PG_SERVER and none installed (apt-get install postgresql)" >&2; exit 1; }
  PG_BIN=$(dirname "$initdb")
  local parent=/tmp
  [ "${PG_TMPFS:-0}" = 1 ] && parent=/dev/shm
  PG_TMP=$(mktemp -d "$parent/classchat-load-pg.XXXXXX")
  chown postgres "$PG_TMP" 2>/dev/null || true
  local port run=()
  port=$(free_port)
  [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
  "${run[@]}" "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres --auth=trust >/dev/null
  "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/log" -w \
    -o "-p $port -k $PG_TMP -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
  PG_SERVER="postgres://postgres@127.0.0.1:$port"
  echo "loadtest: started a throwaway PostgreSQL at $PG_SERVER" >&2
}

stop_pg() {
  if [ -n "$PG_TMP" ]; then
    local run=()
    [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
    "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$PG_TMP"
  fi
}

# A fresh database on PG_SERVER (dropped at exit).
new_database() {
  DB="$1"
  psql "$PG_SERVER/postgres" -qc "create database $DB" >/dev/null
}

# At exit: every process started (pids), the database, a throwaway PostgreSQL, RUN_DIR
# (its logs copied to KEEP_LOGS first, if set).
cleanup() {
  # SIGTERM the nodes and wait until they have drained (they still use Redis and the
  # database meanwhile), then the rest.
  if [ ${#node_pids[@]} -gt 0 ]; then
    kill "${node_pids[@]}" 2>/dev/null || true
    for p in "${node_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  fi
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "${KEEP_LOGS:-}" ]; then
    mkdir -p "$KEEP_LOGS" && cp "$RUN_DIR"/*.log "$RUN_DIR"/*.out "$KEEP_LOGS"/ 2>/dev/null || true
  fi
  [ -z "$DB" ] || psql "$PG_SERVER/postgres" -qc "drop database if exists $DB with (force)" >/dev/null 2>&1 || true
  stop_pg
  rm -rf "$RUN_DIR"
}

# Lifts every per-user and per-address rate limit: the load comes from one address, and
# set-up makes rooms and members in bulk (issue 11's limits, meetings', uploads', search's).
lift_rates() {
  local v
  for v in SEND TYPING CONNECT; do
    export "CLASSCHAT_RATE_${v}_PER_SEC=1000000" "CLASSCHAT_RATE_${v}_BURST=1000000"
    export "CLASSCHAT_RATE_${v}_PER_SEC_PER_IP=1000000" "CLASSCHAT_RATE_${v}_BURST_PER_IP=1000000"
  done
  for v in STATUS ROOM_CREATE MEMBER_ADD ONLINE_USERS SIGNAL MEETING UPLOAD SEARCH; do
    export "CLASSCHAT_RATE_${v}_PER_SEC=1000000" "CLASSCHAT_RATE_${v}_BURST=1000000"
  done
}

start_redis() {
  [ "$NODES" -gt 1 ] || [ "${REDIS:-0}" = 1 ] || [ "${REDIS_CLUSTER:-0}" = 1 ] || return 0
  if [ "${REDIS_CLUSTER:-0}" = 1 ]; then start_redis_cluster; return; fi
  local port
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --logfile "$RUN_DIR/redis.log" &
  pids+=($!)
  export REDIS_URL="redis://127.0.0.1:$port"
  for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
}

# REDIS_CLUSTER=1: a Redis Cluster of its own instead, 3 masters and no replicas (the
# benchmark measures pub/sub per shard; the failover tests run with replicas), on free
# ports in RUN_DIR; REDIS_URL is its redis-cluster:// URL, RC_PORTS its ports.
start_redis_cluster() {
  RC_PORTS=()
  local p addrs=()
  for _ in 1 2 3; do
    p=$(free_port)
    RC_PORTS+=("$p"); addrs+=("127.0.0.1:$p")
    (cd "$RUN_DIR" && exec redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file "nodes-$p.conf" --save "" --appendonly no --logfile "redis-$p.log") &
    pids+=($!)
  done
  for p in "${RC_PORTS[@]}"; do
    for _ in $(seq 1 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$RUN_DIR/redis-cluster-create.log"
  for _ in $(seq 1 100); do
    redis-cli -p "${RC_PORTS[0]}" cluster info | grep -q cluster_state:ok && break; sleep 0.1
  done
  export REDIS_URL="redis-cluster://${addrs[0]}?node=${addrs[1]}&node=${addrs[2]}"
}

# Per master of the Redis Cluster: its slots, sharded pub/sub command counts, the shard
# channels subscribed right now and their subscribers. Printed to stdout.
redis_cluster_report() {
  local p chans
  for p in "${RC_PORTS[@]}"; do
    echo "== master 127.0.0.1:$p slots $(redis-cli -p "$p" cluster nodes | awk '/myself/ {for (i = 9; i <= NF; i++) printf "%s ", $i}')"
    redis-cli -p "$p" info commandstats | grep -E 'cmdstat_(spublish|ssubscribe|sunsubscribe|publish|subscribe|evalsha|eval|hgetall|sadd)[:]' || true
    chans=$(redis-cli -p "$p" pubsub shardchannels | tr '\n' ' ')
    echo "shardchannels: $(echo "$chans" | wc -w)"
    # shellcheck disable=SC2086
    [ -z "$chans" ] || redis-cli -p "$p" pubsub shardnumsub $chans | paste - - | sed 's/^/  /'
  done
}

# taskset prefixes from TASKSET_SERVER and TASKSET_LOAD.
pins() {
  server_pin=(); load_pin=()
  [ -n "${TASKSET_SERVER:-}" ] && server_pin=(taskset -c "$TASKSET_SERVER")
  [ -n "${TASKSET_LOAD:-}" ] && load_pin=(taskset -c "$TASKSET_LOAD")
  return 0
}

# With LB=1 and three nodes (NODE{1,2,3}_API / _SOCKET exported): starts HAProxy with
# deploy/haproxy/haproxy.cfg and replaces node_args' addresses by the balancer's.
start_lb() {
  [ "${LB:-0}" = 1 ] || return 0
  [ "$NODES" = 3 ] || { echo "loadtest: LB=1 needs NODES=3 (deploy/haproxy/haproxy.cfg)" >&2; exit 2; }
  command -v haproxy >/dev/null || { echo "loadtest: LB=1 needs haproxy (apt-get install haproxy)" >&2; exit 1; }
  local lb_api lb_sock
  lb_api=127.0.0.1:$(free_port); lb_sock=127.0.0.1:$(free_port)
  # Two descriptors per proxied connection must fit the 20,000 open files of a process.
  LB_API_BIND="$lb_api" LB_SOCKET_BIND="$lb_sock" LB_MAXCONN="${LB_MAXCONN:-9500}" \
    haproxy -f deploy/haproxy/haproxy.cfg -db >"$RUN_DIR/haproxy.log" 2>&1 &
  pids+=($!)
  local keep=()
  for ((k = 0; k < ${#node_args[@]}; k += 2)); do
    [ "${node_args[k]}" = --server-pid ] && keep+=(--server-pid "${node_args[k + 1]}")
  done
  node_args=(--api "http://$lb_api" --socket "$lb_sock" "${keep[@]}")
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/${lb_sock%:*}/${lb_sock#*:}") 2>/dev/null && break; sleep 0.1; done
}
