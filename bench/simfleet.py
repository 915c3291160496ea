"""Start ``tikguard sim run`` in its own process for a benchmark: tiny or corpus-sized.

``tiny``: blank routers (a few hundred bytes of export each). ``corpus``: routers seeded
with the test corpus's real exports, in turn (``--config-from``; about 21 KB of
export each), so a benchmark measures configurations of a real size, not handshakes.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The real exports a corpus-sized fleet is seeded with.
CORPUS_EXPORTS = Path(os.environ.get("TIKGUARD_CORPUS", REPO.parent / "shared" / "corpus")) / (
    "exports"
)
FLEETS = ("tiny", "corpus")


def start_simulator(
    count: int, state_dir: Path, *, scale: float = 1.0, fleet: str = "tiny"
) -> tuple[subprocess.Popen[bytes], list[dict[str, str]]]:
    """``tikguard sim run`` in its own process; returns it and the inventory rows."""
    if fleet not in FLEETS:
        raise SystemExit(f"unknown fleet {fleet!r} (known: {', '.join(FLEETS)})")
    seed: list[str] = []
    if fleet == "corpus":
        if not CORPUS_EXPORTS.is_dir():
            raise SystemExit(f"corpus not found at {CORPUS_EXPORTS} (set TIKGUARD_CORPUS)")
        seed = ["--config-from", str(CORPUS_EXPORTS)]
    inventory = state_dir / "inventory.csv"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tikguard.cli",
            "sim",
            "run",
            "--devices",
            str(count),
            "--state-dir",
            str(state_dir),
            "--time-scale",
            str(scale),
            *seed,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90 + count / 50
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"the simulator exited: {err}")
        if inventory.exists():
            with inventory.open(newline="") as f:
                rows = list(csv.DictReader(f))
            if len(rows) == count:
                return proc, rows
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the simulator did not start in time")


def export_command(row: dict[str, str]) -> str:
    """The full export for the router's version: 6.x shows secrets by default."""
    return "/export" if "ros6." in row.get("tags", "") else "/export show-sensitive"
