#!/usr/bin/env bash
# make demo-pipeline: run the example pipeline with a throwaway state directory, so
# a newcomer sees the graph run with live progress and touches nothing of
# theirs. Usage: scripts/demo.sh path/to/rebuild
set -euo pipefail
bin=${1:-bin/rebuild}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export DEMO_OUT=$tmp/out
export XDG_STATE_HOME=$tmp/state XDG_CONFIG_HOME=$tmp/config
echo "== the graph"
"$bin" graph --config examples/demo.toml --flake "$PWD" --only=pipeline
echo
echo "== the run"
"$bin" run --config examples/demo.toml --flake "$PWD" --only=pipeline
