"""The CLI pays only for what it uses: loading the command line (``--help``, argument
errors) imports no database, SSH or workflow engine, and reading the inventory or the
operations list loads no SSH or workflow engine.

Behaviour, not timing: what a process imported is read from its ``sys.modules``
(timings are in bench/bench_cli_startup.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

#: Heavy libraries and what needs them: the store, SSH to routers, the push engine,
#: password hashing, the server, the git mirror.
HEAVY = ("sqlalchemy", "asyncssh", "dbos", "argon2", "fastapi", "uvicorn", "pygit2", "alembic")

_PROBE = """
import json, sys
from typer.testing import CliRunner

def loaded():
    return sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))

seen = {}
import tikguard.cli
seen["import"] = loaded()
runner = CliRunner()
for argv in (["--help"], ["push", "--help"], ["device", "list"], ["ops", "list"],
             ["diff", "nosuch", "1"]):
    result = runner.invoke(tikguard.cli.app, argv)
    assert result.exit_code in (0, 2), (argv, result.exit_code, result.output)
    seen[" ".join(argv)] = loaded()
print(json.dumps(seen))
"""


def test_commands_import_only_what_they_use(tmp_path: Path) -> None:
    code = f"HEAVY = {HEAVY!r}\n{_PROBE}"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**_env(), "TIKGUARD_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["import"] == []
    assert seen["--help"] == []
    assert seen["push --help"] == []
    # Reading the store needs SQLAlchemy (and Alembic to migrate), never SSH or DBOS.
    for argv in ("device list", "ops list", "diff nosuch 1"):
        assert not {"asyncssh", "dbos", "argon2", "pygit2"} & set(seen[argv]), (argv, seen)


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("TIKGUARD_")}
