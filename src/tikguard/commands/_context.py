"""What inventory and history commands share: settings, the store, the tenant, errors.

Commands run on the embedded default (SQLite in ``TIKGUARD_DATA_DIR``) with no other
service; the first command creates the database and the ``default`` tenant.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tikguard.commands._ui import fail
from tikguard.device.errors import DeviceError
from tikguard.process import STATE
from tikguard.settings import Settings
from tikguard.store.errors import AlreadyExists, InvalidInput, NotFound, StoreError, VaultError

if TYPE_CHECKING:  # the store and ops are imported by the commands that use them
    from tikguard.store.db import Database


def cli_actor() -> str:
    """Who a CLI change is by, for the audit log: ``cli:<OS user>@<host>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = f"uid{os.getuid()}"
    return f"cli:{user}@{socket.gethostname()}"


@dataclass
class Context:
    settings: Settings
    db: Database
    tenant_id: int
    #: The audit actor of every change this command makes.
    actor: str = ""

    def __post_init__(self) -> None:
        if not self.actor:
            self.actor = cli_actor()


def settings_from_env() -> Settings:
    """The settings, or a clear message naming the environment variable that is wrong."""
    try:
        return Settings.from_env()
    except ValueError as exc:
        fail(str(exc), "fix the TIKGUARD_* environment variable it names")


@contextlib.contextmanager
def open_database(settings: Settings | None = None) -> Iterator[Database]:
    """The migrated store, closed again when the command is done."""
    from tikguard.store.db import Database

    with user_errors():
        db = Database.open(settings or settings_from_env())
    try:
        yield db
    finally:
        db.dispose()


#: The environment variable (and ``tikguard --tenant``) naming the tenant commands work in.
TENANT_ENV = "TIKGUARD_TENANT"


@dataclass
class ChosenTenant:
    """``tikguard --tenant`` (or ``TIKGUARD_TENANT``) of this command (held in
    :data:`tikguard.process.STATE`)."""

    name: str | None = None


def choose_tenant(name: str | None) -> None:
    """The root command's ``--tenant``: what every command of this process works in."""
    STATE.of(ChosenTenant).name = name


def tenant_name() -> str | None:
    """The tenant asked for (``--tenant`` or ``TIKGUARD_TENANT``); None: the default."""
    return STATE.of(ChosenTenant).name


def _tenant_id(db: Database, name: str | None) -> int:
    """The default tenant (created on first use), or an existing one by name (never
    created here: a mistyped name must not start an empty tenant)."""
    from tikguard.ops.devices import default_tenant_id
    from tikguard.store.tenants import DEFAULT_TENANT

    if name is None or name == DEFAULT_TENANT:
        return default_tenant_id(db)
    from tikguard.ops import accounts

    return accounts.tenant_id(db, name)


@contextlib.contextmanager
def store_context() -> Iterator[Context]:
    """Settings from the environment, the migrated store and the tenant to work in:
    ``--tenant``/``TIKGUARD_TENANT`` (which must exist) or the ``default`` one."""
    settings = settings_from_env()
    with open_database(settings) as db:
        name = tenant_name()
        with user_errors():
            try:
                tenant_id = _tenant_id(db, name)
            except NotFound:
                fail(
                    f"tenant {name!r} does not exist",
                    "see `tikguard tenant list`, or unset TIKGUARD_TENANT for the default one",
                )
        yield Context(settings, db, tenant_id)


@contextlib.contextmanager
def user_errors(code: int = 1) -> Iterator[None]:
    """Turn expected errors into a clear message and a hint (exit ``code``), never a
    traceback."""
    try:
        yield
    except NotFound as exc:
        fail(
            str(exc), exc.hint or "see `tikguard device list` for the devices there are", code=code
        )
    except AlreadyExists as exc:
        fail(str(exc), exc.hint or "pick another name", code=code)
    except InvalidInput as exc:
        fail(str(exc), exc.hint, code=code)
    except VaultError as exc:
        fail(
            str(exc),
            "check TIKGUARD_MASTER_KEY / TIKGUARD_MASTER_KEY_FILE point at this data "
            "directory's key",
            code=code,
        )
    except StoreError as exc:
        fail(str(exc), exc.hint, code=code)
    except DeviceError as exc:
        fail(exc.message, exc.hint, code=code)
