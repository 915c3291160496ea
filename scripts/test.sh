#!/usr/bin/env bash
# Set everything up and run the whole test suite: lint, types, tests (SQLite and
# PostgreSQL, the simulator over real SSH/SFTP, browser tests in Debian's chromium).
# Extra arguments go to pytest. Tests run on TIKGUARD_TEST_WORKERS pytest-xdist
# workers (default 2; `bash scripts/test.sh -n 0` or TIKGUARD_TEST_WORKERS=0 runs
# them in one process).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh dev
bash scripts/system-deps.sh
notes=()
if pg_url="$(bash scripts/pg-start.sh)"; then
  export TIKGUARD_TEST_POSTGRES_URL="$pg_url"
else
  notes+=("PostgreSQL could not be started (see above): the PostgreSQL tests are skipped")
fi
chromium="${TIKGUARD_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  notes+=("chromium not found at $chromium (apt-get install chromium, or set TIKGUARD_CHROMIUM): the browser tests are skipped")
fi
for note in ${notes[@]+"${notes[@]}"}; do echo "warning: $note" >&2; done

echo "==> ruff"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
echo "==> mypy"
.venv/bin/mypy
echo "==> pytest"
rc=0
.venv/bin/pytest -n "${TIKGUARD_TEST_WORKERS:-2}" "$@" || rc=$?
for note in ${notes[@]+"${notes[@]}"}; do echo "warning: $note" >&2; done
if [ "$rc" -eq 5 ]; then
  # pytest's "no tests were collected": never a silent success, in CI or not
  echo "error: pytest collected no tests (check the arguments: $*)" >&2
fi
exit "$rc"
