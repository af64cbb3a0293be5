#!/usr/bin/env bash
# Parses every Mermaid diagram in the docs with Mermaid's own parser (installed into a
# temporary directory from the npm registry: about 180 MB, so tests/run.sh does not run
# this; run it after editing a diagram).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK=$(mktemp -d /tmp/classchat-mermaid.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cp "$ROOT/docs/check/mermaid.mjs" "$WORK/"
(cd "$WORK" && npm init -y >/dev/null && npm i --no-audit --no-fund --loglevel=error mermaid@11 jsdom@29 >/dev/null)
files=$(grep -l '```mermaid' "$ROOT"/docs/*.md "$ROOT"/README.md "$ROOT"/crates/*/README.md 2>/dev/null || true)
[ -n "$files" ] || { echo "no diagrams"; exit 0; }
# shellcheck disable=SC2086
node "$WORK/mermaid.mjs" $files
