"""Request and response bodies of the REST API (they make the OpenAPI document).

Requests forbid unknown fields, so a typo is a 422 naming the field instead of a
silently ignored option. Device passwords appear in requests only: no response model
has a field that could carry one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr

from tikguard import healthcheck
from tikguard.ops.devices import MAX_ID as _MAX_ID

#: The largest id or number the database holds (a signed 64-bit integer): beyond it a
#: request is invalid (422), not a 500 from the database driver.
MAX_ID: Final = _MAX_ID
#: A row id or a version number in a request body.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
#: A device in a request body: its id (a number) or its name (a string; a string of
#: digits is an id, ``name:...`` forces a name: ``ops.devices.parse_ref``).
DeviceRef = (
    Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
    | Annotated[StrictStr, Field(min_length=1, max_length=140)]
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """Every error's body (``server/errors.py``): a 4xx always has a ``hint``."""

    error: str = Field(description="a stable code: not_found, invalid, forbidden, ...")
    message: str
    hint: str | None = Field(default=None, description="what to do next")
    details: list[dict[str, str]] | None = Field(
        default=None, description="422 from validation: each bad field and its problem"
    )
    reason: str | None = Field(default=None, description="502: why the router failed")


class Health(BaseModel):
    status: str
    version: str


class Me(BaseModel):
    tenant_id: int
    role: str
    actor: str


# -- devices -------------------------------------------------------------------------------


class DeviceCreate(Strict):
    name: str = Field(min_length=1, max_length=128)
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(default="admin", min_length=1, max_length=128)
    password: str | None = Field(default=None, max_length=1024, description="write-only")
    tags: list[str] = Field(default_factory=list, max_length=64)
    site: str | None = Field(default=None, max_length=128)


class DeviceImport(Strict):
    csv: str = Field(
        min_length=1,
        max_length=4_000_000,
        description="an inventory CSV: a header line naming its columns (name and host "
        "required; port, username, password, tags, site; any other column is a template "
        "variable), one router per line",
    )
    update: bool = Field(default=False, description="change routers that exist (else skip)")


class ImportOut(BaseModel):
    added: list[str]
    updated: list[str]
    skipped: list[str]


class DeviceUpdate(Strict):
    host: str | None = Field(default=None, min_length=1, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str | None = Field(default=None, min_length=1, max_length=128)
    password: str | None = Field(default=None, max_length=1024, description="write-only")
    tags: list[str] | None = Field(default=None, max_length=64)
    site: str | None = Field(default=None, max_length=128)


class DeviceSummary(BaseModel):
    id: int
    name: str
    host: str
    port: int
    site: str | None
    tags: list[str]
    ros_version: str | None
    model: str | None
    last_backup_at: datetime | None
    last_backup_status: str | None
    versions: int
    latest_version: int | None
    drift: bool
    last_push_operation: str | None
    last_push_outcome: str | None
    last_push_at: datetime | None
    host_key_pending: bool
    #: tikguard timers and files the newest backup found with no live push behind them
    #: (kind, name, operation, why): remove a timer with ``tikguard disarm``.
    leftovers: list[dict[str, Any]] = Field(default_factory=list)


class DeviceDetail(BaseModel):
    id: int
    name: str
    host: str
    port: int
    username: str
    has_password: bool
    tags: list[str]
    site: str | None
    host_key_fingerprint: str | None
    pending_host_key_fingerprint: str | None
    ros_version: str | None
    model: str | None
    board: str | None
    last_backup_at: datetime | None
    last_backup_status: str | None
    last_backup_error: str | None


class HostKeyOut(BaseModel):
    device: str
    pinned_fingerprint: str | None
    offered_fingerprint: str
    seen_during_operation: bool


class HostKeyAccept(Strict):
    fingerprint: str = Field(min_length=1, max_length=200, description="SHA256:... as offered")


class ProbeResult(BaseModel):
    device: str
    version: str
    identity: str | None
    board: str | None
    architecture: str | None
    uptime_seconds: float | None
    free_bytes: int | None
    device_mode: dict[str, Any] | str | None
    scheduler_allowed: bool | None
    policies: list[str] | None


# -- versions and diffs ----------------------------------------------------------------------


class VersionOut(BaseModel):
    seq: int
    created_at: datetime
    last_checked_at: datetime
    trigger: str
    ros_version: str | None
    sha256: str
    lines_added: int
    lines_removed: int
    line_count: int
    secrets_count: int
    operation_id: str | None


class VersionTextOut(BaseModel):
    device: str
    version: VersionOut
    with_secrets: bool
    text: str


class DiffOut(BaseModel):
    device: str
    old: str
    new: str
    empty: bool
    semantic: str | None
    summary: dict[str, int] | None
    semantic_error: str | None
    unified: str


# -- operations ----------------------------------------------------------------------------


class BackupRequest(Strict):
    devices: list[DeviceRef] | None = Field(
        default=None, max_length=10_000, description="device ids or names; none: all (or the tag)"
    )
    tag: str | None = Field(default=None, max_length=64)


class Accepted(BaseModel):
    operations: list[str]


def _valid_checks(checks: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A pattern that does not compile is refused now, with the regex error."""
    bad = healthcheck.problems(checks)
    if bad:
        raise ValueError("; ".join(bad))
    return checks


#: Health checks of a push or a rollout, checked when the request arrives.
HealthChecks = Annotated[
    list[tuple[str, str]],
    Field(
        max_length=healthcheck.MAX_CHECKS,
        description="health checks: [RouterOS command, regular expression its output must match]",
    ),
    AfterValidator(_valid_checks),
]


class PushBase(Strict):
    window: float | None = Field(
        default=None, gt=0, le=86_400, description="revert window, seconds"
    )
    confirm: Literal["auto", "manual"] = "auto"
    checks: HealthChecks = Field(default_factory=list)
    idempotency_key: str | None = Field(default=None, max_length=150)


class PushIn(PushBase):
    devices: list[DeviceRef] = Field(min_length=1, max_length=10_000)
    script: str = Field(min_length=1)


class RestoreIn(PushBase):
    device: DeviceRef
    version: Id


class ReplaceIn(PushBase):
    device: DeviceRef
    script: str = Field(min_length=1)


class PreviewIn(Strict):
    device: DeviceRef
    mode: Literal["merge", "restore", "replace"] = "merge"
    script: str | None = None
    version: Id | None = None
    window: float | None = Field(
        default=None, gt=0, le=86_400, description="revert window, seconds (as the push's)"
    )


class PreviewOut(BaseModel):
    device: str
    mode: str
    diff: str
    summary: dict[str, int]
    risk: list[dict[str, Any]]
    unsupported: list[str]
    script: str
    preflight: dict[str, Any]
    #: What the real push would refuse, in its words (empty: it would go ahead).
    problems: list[str] = Field(default_factory=list)


class OperationOut(BaseModel):
    id: str
    device_id: int | None
    device: str | None
    kind: str
    state: str
    outcome: str | None
    requested_by: str | None
    parameters: dict[str, Any]
    evidence: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class EventOut(BaseModel):
    seq: int
    at: datetime
    stage: str
    level: str
    message: str
    data: dict[str, Any]


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any]


class KeyRotationOut(BaseModel):
    """A tenant's data key rotated: every encrypted value re-encrypted with the new key."""

    tenant: str
    old_version: int
    new_version: int
    values: int


class WorkerOut(BaseModel):
    """A worker of the cluster sharing this database (see docs/scale-out.md)."""

    id: str
    host: str
    pid: int
    version: str
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_age: float
    alive: bool
    stopped: bool
    pushes_in_flight: int
    taken_over_by: str | None


# -- accounts --------------------------------------------------------------------------------


class UserIn(Strict):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=10, max_length=1024)
    role: Literal["viewer", "operator", "admin"] = "viewer"


class PasswordIn(Strict):
    password: str = Field(min_length=10, max_length=1024)


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


class TokenIn(Strict):
    name: str = Field(min_length=1, max_length=128)
    role: Literal["viewer", "operator", "admin"] = "viewer"
    expires_at: datetime | None = None


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(BaseModel):
    id: int
    name: str
    role: str
    token: str = Field(description="shown once; store it now")
    expires_at: datetime | None


class ScheduleIn(Strict):
    #: None: the whole tenant; else the devices with this tag.
    tag: str | None = Field(default=None, min_length=1, max_length=64)
    #: Cron expression (5 fields, or 6 with seconds first); default daily at 03:00.
    cron: str = Field(default="0 3 * * *", min_length=1, max_length=120)
    #: IANA time zone of the expression (default UTC).
    time_zone: str | None = Field(default=None, min_length=1, max_length=64)


class ScheduleOut(BaseModel):
    tag: str | None
    cron: str
    time_zone: str | None


class SearchMatchOut(BaseModel):
    """One matching line: the menu and the command in terse form (secrets hidden)."""

    menu: str
    line: str


class SearchRouterOut(BaseModel):
    """One router's matching lines in one version (``count`` may exceed the lines shown)."""

    device: str
    device_id: int
    version: int
    count: int
    lines: list[SearchMatchOut]


class SearchOut(BaseModel):
    """A fleet search: the query as understood, and the routers that match."""

    query: str
    structured: bool
    history: bool
    searched: int
    routers: list[SearchRouterOut]


class ComplianceViolationOut(BaseModel):
    """One router breaking one rule: its version, since when, the lines that show it."""

    device: str
    version: int | None
    since: datetime
    lines: list[str]


class ComplianceRuleOut(BaseModel):
    id: str
    title: str
    severity: str
    must: bool
    query: str
    fix: bool
    passing: int
    violations: list[ComplianceViolationOut]


class ComplianceChangeOut(BaseModel):
    """A violation that appeared (``new``) or was resolved."""

    id: int
    at: datetime
    kind: str
    rule: str
    severity: str
    device: str
    version: int | None


class ComplianceReportOut(BaseModel):
    """The fleet's compliance: every rule with its violations, and recent changes."""

    rules: list[ComplianceRuleOut]
    routers: int
    compliant: int
    violations: int
    by_severity: dict[str, int]
    changes: list[ComplianceChangeOut]
