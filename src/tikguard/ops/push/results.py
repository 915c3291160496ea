"""What a guarded push carries between its steps: the request and every step's result.

Why typed: the crash-safety protocol branches on these results, and a misspelt key of a
plain dict reads as "unknown" without a word. Each step's answer is a frozen dataclass
with one meaning of success (:attr:`StepResult.ok`); DBOS records it as JSON (a plain
dict, redacted like stored configs: :func:`tikguard.ops.push.recorded.step`), and the
workflow gets the dataclass back, on a first run and on a replay alike.

The recorded JSON is part of the workflow revision (``runtime.WORKFLOW_REVISION``): a
change to a field a replay reads bumps it, and workflows recorded by another revision
are refused with a clear message (``lifecycle.mark_stale``), never misread. Reading is
tolerant the other way: a field missing from a recorded answer reads as its default
(unknown), an unknown one is ignored.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Self, TypedDict, cast, get_args

from tikguard.device import guard as dev
from tikguard.ops.push.evidence import EvidenceJson
from tikguard.routeros.risk import RiskJson

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Mode = Literal["merge", "restore", "replace"]
Confirm = Literal["auto", "manual"]

MODES: tuple[Mode, ...] = get_args(Mode)


# -- the JSON shapes inside recorded answers ---------------------------------------------
# TypedDicts: plain dicts at run time, so DBOS records them as they are and a replay
# reads them back unchanged; typed for every reader in between.


class UptimeJson(TypedDict):
    """An uptime read as recorded (:class:`tikguard.device.guard.Uptime`)."""

    uptime: float
    wall_before: float
    wall_after: float


def uptime_json(up: dev.Uptime) -> UptimeJson:
    return UptimeJson(uptime=up.uptime, wall_before=up.wall_before, wall_after=up.wall_after)


def boot_of(up: UptimeJson | None, time_scale: float) -> tuple[float | None, float]:
    """The boot instant of a recorded uptime read and its half-width (None: no read)."""
    if not up:
        return None, 0.0
    return dev.Uptime(**up).boot(time_scale)


ClockSourceKind = Literal["ntp", "cloud", "ntp (not synchronized)", "manual", "unknown"]


class ClockSource(TypedDict):
    """Where the router's clock comes from, with what was read
    (:func:`tikguard.ops.push.boot.clock_source`)."""

    source: ClockSourceKind
    ntp_enabled: bool | None
    ntp_status: str | None
    cloud_update_time: bool | None
    cloud_status: str | None


class DryRunJson(TypedDict):
    """What ``/import ... dry-run`` said (:class:`tikguard.ops.push.preflight.DryRun`)."""

    ok: bool
    error: str | None
    line: int | None
    seconds: float


class PlanJson(TypedDict):
    """A plan without its script (:meth:`tikguard.ops.push.plan.Plan.as_json`)."""

    mode: Mode
    diff: str
    summary: dict[str, int]
    risk: list[RiskJson]
    unsupported: list[str]
    script_lines: int


class UnexportedJson(TypedDict):
    """What was read back of menus no export shows (:mod:`tikguard.ops.push.unexported`)."""

    checked: list[str]
    missing: list[str]
    not_verifiable: list[str]


class PreflightEvidence(TypedDict):
    """What an operation's evidence keeps of its preflight."""

    version: str | None
    free_bytes: int | None
    clock: str | None
    clock_source: ClockSource | None
    drift: bool | None
    problems: list[str]


class Recordable:
    """JSON in and out: fields of JSON types, read back tolerantly (see the module)."""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for f in dataclasses.fields(cast("DataclassInstance", self)):
            value = getattr(self, f.name)
            if isinstance(value, enum.Enum):
                value = value.value
            elif isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Self:
        known = {f.name: f for f in dataclasses.fields(cast("type[DataclassInstance]", cls))}
        kwargs = {
            name: value
            for name, value in data.items()
            if name in known and (value is not None or _nullable(known[name]))
        }
        # the JSON boundary: the fields' types are restored by ``_typed``
        made: Self = cast("Callable[..., Self]", cls)(**kwargs)
        return made._typed()

    def _typed(self) -> Self:
        """Hook: turn JSON forms back into their types (enums, tuples)."""
        return self


def _nullable(f: dataclasses.Field[object]) -> bool:
    return f.default is None


class PushEvidence(EvidenceJson, total=False):
    """What a push's outcome records: the evidence, what it leaves unknown, the plan, the
    preflight, and the recorded answers the verdict rests on (their JSON)."""

    outcome_unknowns: list[str]
    plan: PlanJson | None
    preflight: PreflightEvidence
    post: dict[str, object]
    verify: dict[str, object]
    proof: dict[str, object]


# -- the request ---------------------------------------------------------------


@dataclass(frozen=True)
class PushSpec(Recordable):
    """One device's push as the workflow receives it: ids and encrypted texts only (the
    workflow's recorded input is its JSON form, made by ``request.submit``)."""

    op_id: str
    tenant_id: int
    device_id: int
    mode: Mode = "merge"
    version_id: int | None = None
    window: float = 0.0
    confirm: Confirm = "auto"
    #: Health checks: (RouterOS command, regular expression its output must match).
    checks: tuple[tuple[str, str], ...] = ()
    #: The script, encrypted with the tenant's key (merge and replace).
    script_enc: str | None = None
    #: The revert point's password, encrypted likewise (None: an unencrypted one).
    revert_key_enc: str | None = None

    def _typed(self) -> Self:
        checks = tuple((str(c[0]), str(c[1])) for c in cast(Sequence[Sequence[str]], self.checks))
        return dataclasses.replace(self, checks=checks, window=float(self.window))

    @classmethod
    def of(cls, data: Mapping[str, object]) -> PushSpec:
        """The spec of a recorded workflow input (a dict); ValueError if it is none."""
        for key in ("op_id", "tenant_id", "device_id"):
            if key not in data:
                raise ValueError(f"a push request without {key}")
        return PushSpec.from_json(data)

    @classmethod
    def recorded(cls, inputs: Mapping[str, object] | None) -> PushSpec | None:
        """The spec in a push workflow's recorded input (DBOS's ``{"args": [spec JSON],
        "kwargs": {}}``), of this revision or an older one, read tolerantly; None when
        it holds none (the one decoder of that boundary)."""
        args = (inputs or {}).get("args")
        if not isinstance(args, (list, tuple)) or not args or not isinstance(args[0], dict):
            return None
        try:
            return cls.of(args[0])
        except (ValueError, TypeError):
            return None


# -- step results ----------------------------------------------------------------


class StepResult(Recordable):
    """Every step's answer says whether it did its job (``ok``) and, if not, why."""

    reason: str | None

    @property
    def ok(self) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class Preflight(StepResult):
    """Read-only: what the router is, the plan, and what the preflight refuses."""

    passed: bool = False
    reason: str | None = None
    problems: tuple[str, ...] = ()
    #: Whether anything was written (never: the dry-run's file is removed again).
    wrote: bool = False
    on_flash: bool = False
    version: str | None = None
    running_hash: str | None = None
    timer_present: bool | None = None
    drift: bool | None = None
    plan: PlanJson | None = None
    #: The planned script (what is imported), encrypted like the request's.
    script_enc: str | None = None
    free_bytes: int | None = None
    clock: str | None = None
    clock_source: ClockSource | None = None
    dry_run: DryRunJson | None = None

    @property
    def ok(self) -> bool:
        return self.passed

    def _typed(self) -> Self:
        return dataclasses.replace(self, problems=tuple(self.problems))

    def evidence(self) -> PreflightEvidence:
        """What the operation's evidence keeps of the preflight."""
        return PreflightEvidence(
            version=self.version,
            free_bytes=self.free_bytes,
            clock=self.clock,
            clock_source=self.clock_source,
            drift=self.drift,
            problems=list(self.problems),
        )


@dataclass(frozen=True)
class PrePush(StepResult):
    """The pre-push version stored, and the uptime read beside it."""

    stored: bool = False
    reason: str | None = None
    version: int | None = None
    version_id: int | None = None
    pre_hash: str | None = None
    uptime: UptimeJson | None = None

    @property
    def ok(self) -> bool:
        return self.stored


@dataclass(frozen=True)
class RevertPoint(StepResult):
    saved: bool = False
    reason: str | None = None
    file: str | None = None
    size: int | None = None

    @property
    def ok(self) -> bool:
        return self.saved


@dataclass(frozen=True)
class Armed(StepResult):
    """The revert timers added and read back (or why not, and whether they are gone)."""

    armed: bool = False
    reason: str | None = None
    deadline: float = 0.0
    next_run: str | None = None
    interval: float | None = None
    #: After a bad read-back: whether the timers were removed again (None: unknown).
    disarmed: bool | None = None

    @property
    def ok(self) -> bool:
        return self.armed


class ApplyStatus(enum.StrEnum):
    OK = "ok"
    #: Past ``deadline - margin`` before anything was sent.
    LATE = "late"
    #: A marker says an earlier run started the apply: unknown partial state.
    INTERRUPTED = "interrupted"
    #: The session died during the apply.
    LOST = "lost"
    IMPORT_ERROR = "import-error"


@dataclass(frozen=True)
class Applied(StepResult):
    status: ApplyStatus = ApplyStatus.LOST
    reason: str | None = None
    output: str = ""
    line: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is ApplyStatus.OK

    def _typed(self) -> Self:
        return dataclasses.replace(self, status=ApplyStatus(self.status))


@dataclass(frozen=True)
class Fired(StepResult):
    """Whether tikguard loaded the revert point itself."""

    fired: bool = False
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.fired


@dataclass(frozen=True)
class BackUp(StepResult):
    """After a reset-configuration: the router answered again (or not by the margin)."""

    up: bool = False
    reason: str | None = None
    uptime: UptimeJson | None = None

    @property
    def ok(self) -> bool:
        return self.up


@dataclass(frozen=True)
class Verified(StepResult):
    """Fresh connection, stayed up, health checks, convergence."""

    reachable: bool = False
    reason: str | None = None
    converged: bool = False
    rebooted: bool = False
    uptime: UptimeJson | None = None
    convergence: str = ""
    checks_ok: bool | None = None
    checks: tuple[str, ...] = ()
    after_hash: str | None = None
    unexported: UnexportedJson | None = None

    @property
    def ok(self) -> bool:
        return self.reachable and self.converged and self.checks_ok is not False

    def _typed(self) -> Self:
        return dataclasses.replace(self, checks=tuple(self.checks))

    def failure(self) -> str:
        """Why verification failed, in one line."""
        if self.reason:
            return self.reason
        if self.checks_ok is False:
            return "health check failed: " + "; ".join(self.checks)
        return self.convergence


@dataclass(frozen=True)
class Committed(StepResult):
    """The timers removed and read back gone (or why the push cannot commit)."""

    committed: bool = False
    reason: str | None = None
    #: Past ``deadline - margin``: nothing was touched.
    late: bool = False
    #: A boot inside the window: the router reverts at boot.
    rebooted: bool = False
    #: The interval timer was gone before this step removed it.
    already_gone: bool = False
    #: ... and an earlier run of this step had started (it may have removed it).
    resumed: bool = False
    removed: bool = False
    timer_present: bool | None = None
    uptime: UptimeJson | None = None

    @property
    def ok(self) -> bool:
        return self.committed


@dataclass(frozen=True)
class AfterCommit(StepResult):
    """Files removed, the uptime and timers read, the post-push version stored."""

    reason: str | None = None
    uptime: UptimeJson | None = None
    timer_present: bool | None = None
    post_version: int | None = None
    after_hash: str | None = None
    post_push_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.post_push_error is None


@dataclass(frozen=True)
class Proof(StepResult):
    """What the router showed once it answered with the timer gone (or time ran out)."""

    reachable: bool = False
    reason: str | None = None
    uptime: UptimeJson | None = None
    timer_present: bool | None = None
    #: tikguard loaded the revert point because a timer outlived its deadline.
    fired_late: bool = False
    #: Controller wall time of the read (no read of the proof is older).
    read_at: float | None = None
    after_hash: str | None = None
    converged: bool | None = None
    convergence: str | None = None
    export_error: str | None = None
    last_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.reachable

    def describe(self) -> str:
        if not self.reachable:
            return f"the router did not answer: {self.last_error or 'no connection'}"
        timer = "still armed" if self.timer_present else "gone"
        uptime = self.uptime.get("uptime") if self.uptime else None
        return f"router answers: uptime {uptime} s, revert timer {timer}, config read back"
