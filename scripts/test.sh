#!/usr/bin/env bash
# Set everything up and run the whole test suite: lint, types, tests (SQLite and
# PostgreSQL, the simulator over real SSH/SFTP, browser tests in Debian's chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh dev
bash scripts/system-deps.sh
if pg_url="$(bash scripts/pg-start.sh)"; then
  export TIKGUARD_TEST_POSTGRES_URL="$pg_url"
else
  echo "warning: PostgreSQL could not be started; PostgreSQL tests will be skipped" >&2
fi

echo "==> ruff"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
echo "==> mypy"
.venv/bin/mypy
echo "==> pytest"
exec .venv/bin/pytest "$@"
