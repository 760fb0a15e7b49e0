#!/usr/bin/env bash
# Builds the kvs binary of git revision (or tree) REV into OUT, for the
# before/after rows of the benchmark scripts, and prints REV's short name.
# Usage: scripts/build-kvs-at.sh REV OUT
set -euo pipefail
rev=$1 out=$2
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
cd "$(dirname "$0")/.."
git archive "$rev" | tar -x -C "$src"
(cd "$src" && CGO_ENABLED=0 go build -o "$out" ./cmd/kvs)
git rev-parse --short "$rev"
