"""One store with tenants alpha and beta (``world.build_tenant``) for a whole test module.

Building a tenant hashes three passwords with argon2 and the store runs its migrations:
the slow part of an API test. Modules whose tests leave the world as they found it
share one by taking these fixtures under their own names::

    from tests.api import two_tenants

    settings, db, alpha, beta, app = (
        two_tenants.settings, two_tenants.db, two_tenants.alpha, two_tenants.beta, two_tenants.app
    )

(assigned, not imported by name: pytest finds fixtures among a module's attributes).
A module that needs more of alpha defines ``extend_alpha(db, alpha)``; it runs once,
when alpha is built. A test that changes the world makes what it changes itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from tests.api.world import TenantWorld, api_settings, build_tenant

from tikguard.api.app import create_app
from tikguard.settings import Settings
from tikguard.store.db import Database

__all__ = ["alpha", "app", "beta", "db", "settings"]


@pytest.fixture(scope="module")
def settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    name = request.module.__name__.rsplit(".", 1)[-1]
    return api_settings(tmp_path_factory.mktemp(name) / "data")


@pytest.fixture(scope="module")
def db(settings: Settings) -> Iterator[Database]:
    database = Database.open(settings)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def alpha(request: pytest.FixtureRequest, db: Database) -> TenantWorld:
    world = build_tenant(db, "alpha")
    extend: Callable[[Database, TenantWorld], None] | None = getattr(
        request.module, "extend_alpha", None
    )
    if extend is not None:
        extend(db, world)
    return world


@pytest.fixture(scope="module")
def beta(db: Database) -> TenantWorld:
    return build_tenant(db, "beta")


@pytest.fixture(scope="module")
def app(settings: Settings, db: Database, alpha: TenantWorld, beta: TenantWorld) -> FastAPI:
    return create_app(settings, db=db, engine=False)
