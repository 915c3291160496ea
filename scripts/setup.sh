#!/usr/bin/env bash
# Set up tikguard in ./.venv from the pinned lock files. Idempotent and quick when
# nothing changed. Usage: scripts/setup.sh [runtime|dev]   (default: runtime)
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-runtime}"
lock=requirements.lock
[ "$profile" = dev ] && lock=requirements-dev.lock

PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "tikguard needs Python 3.11 or newer (found: $("$PY" --version 2>&1))." >&2
  echo "Install it (Debian: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv || {
    echo "python3 -m venv failed; on Debian install it with: apt-get install python3-venv" >&2
    exit 1
  }
fi
stamp=".venv/.tikguard-$profile-$(sha256sum "$lock" pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  echo "==> installing pinned dependencies from $lock"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$lock"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  touch "$stamp"
fi
