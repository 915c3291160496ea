"""API fixtures: a real SQLite store with two tenants, the app, an httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from tests.api.world import TenantWorld, api_settings, build_tenant

from tikguard.api.app import create_app
from tikguard.settings import Settings
from tikguard.store.db import Database


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return api_settings(tmp_path / "data")


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database.open(settings)
    yield database
    database.dispose()


@pytest.fixture
def alpha(db: Database) -> TenantWorld:
    return build_tenant(db, "alpha")


@pytest.fixture
def beta(db: Database) -> TenantWorld:
    return build_tenant(db, "beta")


@pytest.fixture
def app(settings: Settings, db: Database) -> FastAPI:
    return create_app(settings, db=db, engine=False)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://tikguard.test") as c:
        yield c
