#!/usr/bin/env bash
# Run every benchmark in bench/ with its default sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
for bench in bench/bench_*.py; do
    echo "== ${bench}"
    python "${bench}"
done
