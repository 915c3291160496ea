"""docs/scale-out.md, run as written: every ``sh`` block of the page, in order, in one
bash script (three workers on one PostgreSQL, simulated routers, a push through the
cluster, a worker removed, one added, one killed). Only the database URL (a fresh
database) and the port base come from the test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.pgtemp import fresh_database

from .clusterkit import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(1800)]

DOC = Path(__file__).resolve().parents[2] / "docs" / "scale-out.md"


def doc_script() -> str:
    blocks = re.findall(r"^```sh\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)
    assert len(blocks) >= 6, "the page lost its steps"
    return "set -euo pipefail\n" + "\n".join(blocks)


def test_scale_out_doc_as_written(tmp_path: Path) -> None:
    base_url = os.environ.get("TIKGUARD_TEST_POSTGRES_URL")
    if not base_url:
        pytest.skip("PostgreSQL not configured: set TIKGUARD_TEST_POSTGRES_URL")
    base = free_port() // 10 * 10  # BASE+1 .. BASE+4 stay in its free range
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIKGUARD_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "250"
    env["BASE"] = str(base)
    with fresh_database("tg_doc", base_url) as url:
        env["TIKGUARD_DATABASE_URL"] = url
        done = subprocess.run(
            ["bash", "-c", doc_script()],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=1500,  # a loaded machine: each command imports tikguard anew
        )
    logs = "".join(
        f"\n== {p.name}\n{p.read_text(errors='replace')[-1500:]}"
        for p in sorted((tmp_path / "cluster").glob("*.log"))
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:] + logs
    out = done.stdout
    assert out.count("password:") == 1, "one worker made the first admin"
    assert "committed" in out and "uncertain" not in out
    assert re.search(r"dead", out), "the killed worker is listed as dead"
    assert re.search(r"stopped", out), "the removed worker is listed as stopped"
