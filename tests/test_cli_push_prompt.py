"""Before ``push`` asks ``[y/N]`` it shows, per router, what changes and the risk tags
(the dry run's rendering); answering no pushes nothing. In process, over real SSH to
the simulator: the preview only reads the router, so no engine is started."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import SIM_TIME_SCALE
from tests.test_cli_backup import ThreadedFleet, run


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[ThreadedFleet]:
    served = ThreadedFleet(count=2, time_scale=SIM_TIME_SCALE, state_dir=tmp_path / "sim")
    yield served
    served.close()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    limit = str(30 * SIM_TIME_SCALE)
    return {
        "TIKGUARD_DATA_DIR": str(tmp_path / "data"),
        "TIKGUARD_TIME_SCALE": str(SIM_TIME_SCALE),
        "TIKGUARD_CONNECT_TIMEOUT": limit,
        "TIKGUARD_COMMAND_TIMEOUT": limit,
        "TIKGUARD_BACKUP_TIMEOUT": limit,
    }


def test_the_question_comes_after_the_change_and_its_risk(
    fleet: ThreadedFleet, env: dict[str, str], tmp_path: Path
) -> None:
    names = []
    for dev in fleet.fleet:
        where = [dev.name, dev.host, "--port", str(dev.port)]
        assert run(env, "device", "add", *where, input="simpass\n").exit_code == 0
        names.append(dev.name)
    change = tmp_path / "change.rsc"
    change.write_text("/ip address add address=10.95.0.1/24 interface=ether2 comment=tikguard\n")

    out = run(env, "push", *names, "--file", str(change), input="n\n")
    assert out.exit_code == 1, out.output
    text = out.output
    question = text.index("guarded by a revert timer?")
    for name in names:  # each router's change, its risk tag, then the question
        heading = text.index(f"--- {name} (merge) ---")
        assert heading < text.index("1 added", heading) < question
        assert heading < text.index("risk", heading) < question
    assert text.count("+ address=10.95.0.1/24") == 2
    assert "no operations yet" in run(env, "ops", "list").output  # "no" pushed nothing
