#!/usr/bin/env bash
# class-start before/after in one sitting (issue 16): the same class-start workload against
# two classchat builds, alternating, on one node pinned to core 0 and on three nodes
# sharing core 0 (the load generator on core 1), with PostgreSQL on disk and on tmpfs.
# One JSON line per run in OUT (default loadtest/results/<date>-class-start/runs.jsonl).
#
#   BEFORE=/var/tmp/classchat-before bash loadtest/class-start-ab.sh
#   ROUNDS=2 ROOMS=10 MEMBERS=1000 RATE=20 bash loadtest/class-start-ab.sh
#
# BEFORE: the older build (required); AFTER: this tree's release build by default.
# EXTRA: more classchat-load options for every run (e.g. --batched).
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE="${BEFORE:?set BEFORE to the older classchat binary}"
AFTER="${AFTER:-${CARGO_TARGET_DIR:-target}/release/classchat}"
OUT="${OUT:-loadtest/results/$(date +%F)-class-start/runs.jsonl}"
ROUNDS="${ROUNDS:-1}" ROOMS="${ROOMS:-10}" MEMBERS="${MEMBERS:-1000}" RATE="${RATE:-20}"
mkdir -p "$(dirname "$OUT")"
cargo build --release --quiet --workspace

run() { # build-name binary nodes pg
  local name=$1 bin=$2 nodes=$3 pg=$4 tmpfs=0 line
  [ "$pg" = tmpfs ] && tmpfs=1
  echo "== $name, $nodes node(s), PostgreSQL on $pg" >&2
  line=$(CLASSCHAT_SERVER_BIN="$bin" NODES="$nodes" PG_TMPFS="$tmpfs" TASKSET_SERVER=0 TASKSET_LOAD=1 \
    bash loadtest/run.sh class-start --rooms "$ROOMS" --members "$MEMBERS" --rate "$RATE" \
    --concurrency 200 --source-ips 20 ${EXTRA:-} | tail -n1)
  python3 - "$name" "$nodes" "$pg" "$line" >>"$OUT" <<'PY'
import json, sys
name, nodes, pg, line = sys.argv[1:5]
r = json.loads(line)
r.update({"build": name, "nodeCount": int(nodes), "pg": pg})
print(json.dumps(r))
PY
}

for _ in $(seq 1 "$ROUNDS"); do
  for nodes in 1 3; do
    for pg in disk tmpfs; do
      run before "$BEFORE" "$nodes" "$pg"
      run after "$AFTER" "$nodes" "$pg"
    done
  done
done
echo "results: $OUT" >&2
