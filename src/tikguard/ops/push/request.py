"""The guarded push service: submit pushes, wait for them, confirm, preview.

The one entry point for the CLI, the API and the demo. A push request becomes one
operation row per device (with an idempotency key: the same request never runs two
pushes) and one DBOS workflow on the push queue, partitioned by device so a router is
never in two pushes at once -- a second request for a busy router waits its turn.

Whoever runs the engine (``tikguard serve``, or the CLI itself when no server runs)
executes the workflows; this module only enqueues and reads.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import NotRequired, TypedDict, cast

from dbos import DBOS, EnqueueOptions
from sqlalchemy import select
from sqlalchemy.orm import Session

from tikguard import healthcheck
from tikguard.device.errors import DeviceError
from tikguard.device.session import Target, connect
from tikguard.ops import runtime
from tikguard.ops.push import revert_key
from tikguard.ops.push.context import encrypt_script, margin
from tikguard.ops.push.plan import Plan
from tikguard.ops.push.preflight import Facts, preflight
from tikguard.ops.push.results import MODES, Confirm, Mode, PushSpec
from tikguard.ops.push.workflow import CONFIRM_TOPIC, WORKFLOW_NAME
from tikguard.routeros.errors import ParseError
from tikguard.routeros.syntax import check_script
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store import operations as store_ops
from tikguard.store import versions as store_versions
from tikguard.store.db import Database
from tikguard.store.errors import InvalidInput, StateError
from tikguard.store.models import Operation, OperationKind

_KIND = MappingProxyType(
    {
        "merge": OperationKind.PUSH.value,
        "restore": OperationKind.RESTORE.value,
        "replace": OperationKind.REPLACE.value,
    }
)


@dataclass(frozen=True)
class PushRequest:
    """What an operator asked for. ``script`` is the merge/replace file's text."""

    devices: Sequence[str]
    mode: str = "merge"
    script: str | None = field(default=None, repr=False)
    #: Restore: the version number (seq) of the device to go back to.
    version: int | None = None
    window: float | None = None
    confirm: str = "auto"  # or "manual"
    #: Health checks: (RouterOS command, regular expression its output must match).
    checks: Sequence[tuple[str, str]] = ()
    idempotency_key: str | None = None
    requested_by: str | None = None

    def key_for(self, device: str) -> str | None:
        """The idempotency key of this request for one device (None: no key given, so
        every request is a new push, as an operator re-running a command expects)."""
        return f"{self.idempotency_key}:{device}" if self.idempotency_key else None


@dataclass(frozen=True)
class Submitted:
    device: str
    op_id: str
    created: bool


def check_request(req: PushRequest, settings: Settings) -> float:
    """Validate a request before anything reaches a router (the push and its dry run
    alike); return the window in device seconds."""
    if req.mode not in MODES:
        raise InvalidInput(f"unknown push mode {req.mode!r} (one of: {', '.join(MODES)})")
    if req.mode == "restore" and req.version is None:
        raise InvalidInput("a restore needs --version")
    if req.mode != "restore" and not req.script:
        raise InvalidInput(f"a {req.mode} needs a script (--file)")
    if req.mode != "restore" and req.script:
        refusal = script_refusal(req.script)
        if refusal is not None:
            raise InvalidInput(refusal)
    return check_options(req, settings)


def script_refusal(script: str) -> str | None:
    """Why a script is refused before anything reaches a router (its syntax, with line
    and column: :mod:`tikguard.routeros.syntax`), or None."""
    try:
        check_script(script)
    except ParseError as exc:
        return f"the script does not parse, nothing was sent: {exc.describe()}"
    return None


def check_options(req: PushRequest, settings: Settings) -> float:
    """The request's confirm mode, health checks and window (what a rollout shares with
    each of its pushes); the window in device seconds."""
    if req.confirm not in ("auto", "manual"):
        raise InvalidInput("--confirm is auto or manual")
    bad_checks = healthcheck.problems(req.checks)
    if bad_checks:
        raise InvalidInput("; ".join(bad_checks))
    window = float(req.window if req.window is not None else settings.push_window)
    budget = settings.push_settle + margin(settings, window) + 10.0
    if window < budget:
        raise InvalidInput(
            f"a {window:g} s window leaves no time to verify: it must be at least "
            f"{budget:g} s (settle {settings.push_settle:g} s + margin "
            f"{margin(settings, window):g} s + 10 s to apply)"
        )
    return window


class RequestDigest(TypedDict):
    """A salted digest of a request (the script may hold secrets: never stored)."""

    salt: str
    digest: str


class Parameters(TypedDict):
    """A push operation's ``parameters`` as stored (the database's JSON column)."""

    mode: str
    version: int | None
    window: float
    confirm: str
    checks: list[list[str]]
    script_lines: int
    request: NotRequired[RequestDigest]


class PreviewFacts(Facts):
    """The preflight's facts beside a dry run, and whether the router drifted from its
    newest stored version (None: no version yet)."""

    drift: bool | None


def workflow_name() -> str:
    return WORKFLOW_NAME


def _request_digest(req: PushRequest, params: Parameters, salt: str) -> str:
    """What makes two requests the same push, hashed with a per-operation salt (the
    script may hold secrets: only a salted digest is stored)."""
    same = {
        "mode": params["mode"],
        "version": params["version"],
        "window": params["window"],
        "confirm": params["confirm"],
        "checks": params["checks"],
    }
    text = json.dumps({**same, "script": req.script or ""}, sort_keys=True)
    return hashlib.sha256((salt + text).encode("utf-8", "surrogateescape")).hexdigest()


def _same_request(op: Operation, req: PushRequest, params: Parameters, device: str) -> None:
    """An idempotency key names one request: reused for another one is a conflict that
    says what the key was first used for (never the old operation answered as new)."""
    first = op.parameters or {}
    stored = first.get("request")
    if not isinstance(stored, dict):  # recorded before requests were: cannot compare
        return
    if stored.get("digest") == _request_digest(req, params, str(stored.get("salt", ""))):
        return
    what = f"a {first.get('mode', op.kind)} of {device}"
    if first.get("version") is not None:
        what += f" to version {first['version']}"
    elif first.get("script_lines") is not None:
        what += f" with a {first['script_lines']}-line script"
    raise StateError(
        f"idempotency key {req.idempotency_key!r} was first used for {what} "
        f"(operation {op.id}, {op.created_at:%Y-%m-%d %H:%M:%S} UTC, "
        f"{first.get('window', '?')} s window, {len(first.get('checks') or [])} checks); "
        "this request differs: send it with a new key"
    )


async def submit(
    db: Database, settings: Settings, tenant_id: int, req: PushRequest
) -> list[Submitted]:
    """Create the operations and enqueue one workflow per device (idempotent)."""
    window = check_request(req, settings)

    def create(session: Session) -> list[tuple[Submitted, PushSpec | None]]:
        out: list[tuple[Submitted, PushSpec | None]] = []
        for name in req.devices:
            device = store_devices.get_device_by_name(session, tenant_id, name)
            version_id: int | None = None
            if req.mode == "restore":
                assert req.version is not None
                version_id = store_versions.get_version_by_seq(
                    session, tenant_id, device.id, req.version
                ).id
            params = Parameters(
                mode=req.mode,
                version=req.version,
                window=window,
                confirm=req.confirm,
                checks=[list(c) for c in req.checks],
                script_lines=len((req.script or "").splitlines()),
            )
            salt = secrets.token_hex(16)
            params["request"] = RequestDigest(salt=salt, digest=_request_digest(req, params, salt))
            op, created = store_ops.create_operation(
                session,
                tenant_id,
                kind=_KIND[req.mode],
                device_id=device.id,
                idempotency_key=req.key_for(name),
                parameters=dict(params),
                requested_by=req.requested_by,
            )
            if not created:
                _same_request(op, req, params, name)
            spec: PushSpec | None = None
            # an existing, unfinished operation is enqueued again: if the process that
            # created it stopped before queueing its workflow, this is what starts it
            # (DBOS keeps one workflow per id, so a queued one is not duplicated)
            if op.outcome is None:
                spec = PushSpec(
                    op_id=op.id,
                    tenant_id=tenant_id,
                    device_id=device.id,
                    mode=cast(Mode, req.mode),
                    version_id=version_id,
                    window=window,
                    confirm=cast(Confirm, req.confirm),
                    checks=tuple((c[0], c[1]) for c in req.checks),
                )
            out.append((Submitted(name, op.id, created), spec))
        return out

    rows = await db.run_async(create)
    for sub, spec in rows:
        if spec is None:
            continue
        script_enc = None
        if req.script is not None:
            script_enc = await asyncio.to_thread(
                encrypt_script, db, tenant_id, sub.op_id, req.script
            )
        key = await asyncio.to_thread(revert_key.new_revert_key, db, tenant_id, sub.op_id)
        await _enqueue(settings, replace(spec, script_enc=script_enc, revert_key_enc=key))
    return [sub for sub, _ in rows]


async def close_orphans(db: Database, tenant_id: int, op_ids: Sequence[str]) -> list[str]:
    """Finish push operations that have no workflow (the process that created them
    stopped before queueing it): ``failed``, since nothing was sent to any device.
    Needs the engine running in this process; returns the ids it closed."""
    closed: list[str] = []
    for op_id in op_ids:
        if await DBOS.get_workflow_status_async(op_id) is not None:
            continue

        def close(session: Session, op_id: str = op_id) -> None:
            store_ops.finish_operation(
                session,
                tenant_id,
                op_id,
                "failed",
                evidence={"reason": "never started: no write command was sent to the device"},
                error="the controller stopped before the push was queued",
            )

        await db.run_async(close)
        closed.append(op_id)
    return closed


async def _enqueue(settings: Settings, spec: PushSpec) -> None:
    """The push's workflow on the push queue, partitioned by device; its recorded input
    is the spec's JSON form."""
    options = EnqueueOptions(
        workflow_name=workflow_name(),
        queue_name=runtime.PUSH_QUEUE,
        workflow_id=spec.op_id,
        queue_partition_key=str(spec.device_id),
        app_version=runtime.application_version(),
    )
    await runtime.enqueue(settings, options, spec.to_json())


async def wait(
    db: Database, tenant_id: int, op_ids: Sequence[str], poll: float = 0.2
) -> list[Operation]:
    """Wait until every operation has an outcome; return them in order.

    Reads in a plain read transaction (never the write lock the pushes need).
    """

    def read() -> list[Operation]:
        with db.session() as session:
            rows = session.scalars(
                select(Operation).where(
                    Operation.tenant_id == tenant_id, Operation.id.in_(list(op_ids))
                )
            )
            found = {op.id: op for op in rows}
        missing = [i for i in op_ids if i not in found]
        if missing:
            raise InvalidInput(f"operation {missing[0]} does not exist")
        return [found[i] for i in op_ids]

    while True:
        ops = await asyncio.to_thread(read)
        if all(op.outcome is not None for op in ops):
            return ops
        await asyncio.sleep(poll)


async def confirm(settings: Settings, op_id: str, by: str = "operator") -> None:
    """Confirm a manual-confirm push (it commits if verification passed in time)."""
    await runtime.send(settings, op_id, by, CONFIRM_TOPIC)


@dataclass(frozen=True)
class Preview:
    """A dry run on one router: the plan, the preflight's facts, and what the real push
    would refuse (``problems``, in its words; empty: it would go ahead)."""

    device: str
    plan: Plan
    preflight: PreviewFacts
    problems: tuple[str, ...] = ()

    @property
    def refused(self) -> str | None:
        """The reason the real push would end ``failed`` with, or None."""
        return "; ".join(self.problems) if self.problems else None


async def preview(
    db: Database, settings: Settings, tenant_id: int, req: PushRequest, name: str
) -> Preview:
    """Dry run: the real push's checks and preflight (one function), writing no
    configuration: the request and the script's syntax locally, then the router read,
    planned and asked for a dry-run import (7.16+; its file is removed again)."""
    from tikguard.routeros.secrets import merge_text_secrets

    window = check_request(req, settings)

    def load() -> tuple[Target, str, str | None]:
        with db.session() as session:
            return read(session)

    def read(session: Session) -> tuple[Target, str, str | None]:
        device = store_devices.get_device_by_name(session, tenant_id, name)
        password = store_devices.get_password(session, tenant_id, device.id) or ""
        target_text = req.script or ""
        if req.mode == "restore":
            assert req.version is not None
            version = store_versions.get_version_by_seq(session, tenant_id, device.id, req.version)
            target_text = merge_text_secrets(
                store_versions.version_text(version),
                store_versions.get_secrets(session, tenant_id, version),
            )
        newest = store_versions.latest_version(session, tenant_id, device.id)
        target = Target(
            device.name, device.host, device.port, device.username, password, device.host_key
        )
        return target, target_text, None if newest is None else newest.sha256

    target, target_text, newest = await asyncio.to_thread(load)
    if not target.host_key:
        raise DeviceError(name, f"{name} has no pinned host key", hint=f"tikguard backup {name}")
    async with await connect(target, settings) as session:
        found = await preflight(
            session,
            settings,
            op_id=f"dryrun{secrets.token_hex(9)}",
            mode=req.mode,
            target=target_text,
            window=window,
        )
    facts = PreviewFacts(
        **found.facts_json(), drift=None if newest is None else newest != found.running_hash
    )
    return Preview(name, found.plan, facts, found.problems)
