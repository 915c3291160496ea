"""The guarded push with PostgreSQL for both the app database and DBOS's system
database (the at-scale setup), against the simulator. Skipped without
``TIKGUARD_TEST_POSTGRES_URL`` (``scripts/pg-start.sh`` prints one)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.pgtemp import fresh_database

from tikguard.ops import push as push_ops
from tikguard.store.vault import MasterKey

from .pushkit import WINDOW, environment, push_settings

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get("TIKGUARD_TEST_POSTGRES_URL", "")
    if not base:
        pytest.skip("PostgreSQL not configured: set TIKGUARD_TEST_POSTGRES_URL")
    with fresh_database("tg_push", base) as url:
        yield url


async def test_push_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    key = MasterKey.generate().encoded()  # on PostgreSQL a worker is always given the key
    settings = push_settings(tmp_path / "data", database_url=pg_url, master_key=key)
    assert settings.dbos_database_url() == pg_url
    async with environment(tmp_path, settings=settings) as env:
        name = env.fleet[0].name
        good = push_ops.PushRequest(
            [name],
            script="/ip address add address=10.96.0.1/24 interface=ether2\n",
            idempotency_key="pg-1",
        )
        [op] = await env.push(good)
        assert op.outcome == "committed", op.evidence.get("reason")
        again = await push_ops.submit(env.db, env.settings, env.tenant_id, good)
        assert again[0].op_id == op.id and not again[0].created

        cut = push_ops.PushRequest(
            [name], script="/ip service set ssh disabled=yes\n", window=WINDOW
        )
        [op] = await env.push(cut)
        assert op.outcome == "reverted", op.evidence.get("reason")
