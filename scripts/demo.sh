#!/usr/bin/env bash
# Set everything up and run tikguard's demo on the embedded default (SQLite, the
# built-in RouterOS simulator; no other service).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh runtime
export TIKGUARD_DATA_DIR="${TIKGUARD_DATA_DIR:-$PWD/.tikguard/demo}"
exec .venv/bin/tikguard demo "$@"
