#!/usr/bin/env bash
# Runs the same fanout workload against an N-node classchat cluster and an N-node
# Node.js Socket.IO 4.8 + @socket.io/redis-adapter cluster (loadtest/peers/node-socketio),
# one after the other on this machine, and prints per rate step the deliveries/s, p99 and
# server CPU per delivery of both, and the highest step each held at p99 < 50 ms with
# nothing lost.
#
#   bash loadtest/compare.sh                      (3 nodes each, 10 rooms x 1,000 members)
#   NODES=3 RATES=20,40,60,80,100 DURATION=10 bash loadtest/compare.sh
#   TASKSET_SERVER=0 TASKSET_LOAD=1 bash loadtest/compare.sh   (all nodes on core 0, load on 1)
#
# Extra arguments go to classchat-load for both runs. The JSON reports are kept in
# $OUT (default: a new directory under /tmp) as classchat.json and node.json, with the
# logs, and loadtest/plot.py draws p99 against deliveries/s of both into $SVG (default
# $OUT/fanout-p99.svg). To refresh the figure of docs/BENCHMARKS.md:
#
#   OUT=loadtest/results/$(date +%F)-three-nodes SVG=docs/img/fanout-p99.svg bash loadtest/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export NODES="${NODES:-3}"
RATES="${RATES:-20,40,60,80,100,120,140}"
DURATION="${DURATION:-8}"
OUT="${OUT:-$(mktemp -d /tmp/classchat-compare.XXXXXX)}"
SVG="${SVG:-$OUT/fanout-p99.svg}"
mkdir -p "$OUT"
args=(fanout --rooms 10 --members 1000 --rate "$RATES" --duration "$DURATION" --source-ips 20 --concurrency 512 "$@")

echo "classchat, $NODES nodes ..." >&2
bash loadtest/run.sh "${args[@]}" 2>"$OUT/classchat.log" >"$OUT/classchat.json" ||
  { tail -n 5 "$OUT/classchat.log" >&2; exit 1; }
echo "Node.js Socket.IO, $NODES nodes ..." >&2
bash loadtest/peers/run-node.sh "${args[@]}" 2>"$OUT/node.log" >"$OUT/node.json" ||
  { tail -n 5 "$OUT/node.log" >&2; exit 1; }

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
runs = {name: json.loads(open(f"{out}/{name}.json").read().strip().splitlines()[-1])
        for name in ("classchat", "node")}
print(f"{'rate msg/s':>10} | {'classchat del/s':>15} {'p99 ms':>8} {'us/del':>7} | {'node del/s':>10} {'p99 ms':>8} {'us/del':>7}")
# "Held": the highest step such that it and every step below it had p99 < 50 ms, no
# send errors, and the run lost nothing.
best, failed = {}, set()
for i, step in enumerate(runs["classchat"]["steps"]):
    row = [f"{step['rate']:>10.0f} |"]
    for name in ("classchat", "node"):
        s = runs[name]["steps"][i]
        p99 = s["latencyMs"]["p99"]
        ok = p99 < 50 and s["sendErrors"] == 0 and runs[name]["lost"] == 0
        if not ok:
            failed.add(name)
        elif name not in failed:
            best[name] = s["deliveriesPerSecond"]
        width = 15 if name == "classchat" else 10
        row.append(f"{s['deliveriesPerSecond']:>{width}.0f} {p99:>8.1f} {s['serverCpuMicrosPerDelivery']:>7.2f} |")
    print(" ".join(row).rstrip(" |"))
for name in ("classchat", "node"):
    r = runs[name]
    print(f"{name}: lost {r['lost']}, duplicated {r['duplicated']}, out of order {r['outOfOrder']}, "
          f"held at p99 < 50 ms: {best.get(name, 0):.0f} deliveries/s")
if best.get("node"):
    print(f"ratio: {best.get('classchat', 0) / best['node']:.2f}x")
print(f"reports: {out}")
PY
python3 loadtest/plot.py -o "$SVG" classchat="$OUT/classchat.json" "Node.js Socket.IO"="$OUT/node.json"
