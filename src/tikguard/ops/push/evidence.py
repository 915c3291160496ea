"""Deciding a push's outcome from evidence read back from the device (pure, no I/O).

The outcome vocabulary is tikguard's promise (docs/push.md, the four outcomes):

* ``committed``: the running config is the target (read back and compared), the device
  answered on a fresh connection, and we removed the revert timer and read back that it
  is gone -- and the device did not reboot meanwhile.
  Or, when the commit's own read-back was lost (the router lost power right after we
  removed the timer): read back on a fresh connection after the revert deadline, the
  running config is the target and not the pre-push one, and the timer is absent. The
  revert point holds the pre-push config, so a router that had loaded it would run
  that; one whose timer were still there would have fired by the deadline. So the timer
  was removed without a revert, by our commit (verification had passed).
* ``reverted``: the device rebooted (uptime), the revert timer is absent (read back),
  and the running config hash equals the pre-push hash.
* ``failed``: nothing was applied, and a read-back shows the running config is still
  the pre-push one and no timer of ours is armed.
* ``uncertain``: anything else; the reason names what is unknown.

Every field of :class:`Evidence` defaults to "unknown" (``None``), so a missing
read-back can only push the verdict towards ``uncertain``, never towards a claim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal, TypedDict, cast

OutcomeKind = Literal["committed", "reverted", "failed", "uncertain"]
OUTCOMES: tuple[OutcomeKind, ...] = ("committed", "reverted", "failed", "uncertain")

#: Seconds the derived boot instant may wobble without a reboot (both the clock and the
#: uptime are printed with one-second granularity).
BOOT_SLACK = 3.0


@dataclass(frozen=True)
class Evidence:
    """What the controller saw. ``None`` always means "not read back / unknown"."""

    #: Hash of the normalised running config before the push (pre-push version).
    pre_hash: str | None = None
    #: Hash the running config must have after a successful push (restore/replace), or
    #: ``None`` for a merge, where convergence is judged semantically (``converged``).
    target_hash: str | None = None
    #: Hash of the running config at the final read-back.
    after_hash: str | None = None
    #: Did we send anything that changes the configuration (upload + ``/import``,
    #: or reset-configuration)? ``False`` only when we know we did not.
    applied: bool | None = None
    #: Device uptime (seconds) read before applying, and at the final read-back.
    uptime_before: float | None = None
    uptime_after: float | None = None
    #: When the device booted, by its own clock (clock time minus uptime, both from one
    #: read, so no network latency enters): before applying and at the final read-back.
    boot_before: float | None = None
    boot_after: float | None = None
    #: How far the two boot instants may differ without a reboot (read latency, scaled).
    boot_slack: float = BOOT_SLACK
    #: True when the controller sent no command that writes (failed before the revert
    #: point): nothing can have changed, whatever the device is doing now.
    wrote_nothing: bool = False
    #: Was our scheduler seen armed (read back after adding it)?
    armed: bool | None = None
    #: At the final read-back: is our scheduler (name + marker) present?
    timer_present: bool | None = None
    #: We saw the scheduler present, removed it, and read back that it is gone.
    timer_removed_by_us: bool | None = None
    #: A fresh connection (new TCP + SSH, pinned key) succeeded after the change.
    reachable_fresh: bool | None = None
    #: The read-back config matches the intent (restore/replace: equals the target;
    #: merge: the patch from running to target is empty).
    converged: bool | None = None
    #: All user health checks passed (``None`` when there were none or not run).
    checks_ok: bool | None = None
    #: The import reported success (``False``: it reported an error).
    import_ok: bool | None = None
    #: Verification passed and the commit step went to remove the timer, but did not
    #: read back its removal (the session or the router went away).
    commit_attempted: bool = False
    #: The final read-back was taken after the revert deadline.
    read_after_deadline: bool | None = None
    #: The evidence was read by ``tikguard ops recheck``/``revert`` after the push's own
    #: workflow ended or was abandoned: a target config running with no timer after the
    #: deadline proves ``committed`` without a commit of ours (see the module notes).
    rechecked: bool = False
    #: What the controller did that matters for the verdict (for the reason text).
    revert_fired_by_us: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    def rebooted(self) -> bool | None:
        """Did the device boot between the two reads? ``None`` when unknowable.

        Uptime going down proves a boot. Otherwise the boot instant (device clock minus
        uptime) decides: moved forward means a boot, unchanged means none; a clock that
        jumped backwards leaves it unknown.
        """
        before, after = self.uptime_before, self.uptime_after
        if before is not None and after is not None and after + 1.0 < before:
            return True
        if self.boot_before is None or self.boot_after is None:
            return None
        shift = self.boot_after - self.boot_before
        if shift > self.boot_slack:
            return True
        if abs(shift) <= self.boot_slack:
            return False
        return None

    def as_dict(self) -> EvidenceJson:
        """The evidence as the operation records it, with the reboot it shows."""
        return cast(
            EvidenceJson, {**asdict(self), "notes": list(self.notes), "rebooted": self.rebooted()}
        )


class EvidenceJson(TypedDict):
    """:class:`Evidence` as an operation records it (its fields, ``notes`` as a list, and
    ``rebooted``); tests hold the two to the same fields."""

    pre_hash: str | None
    target_hash: str | None
    after_hash: str | None
    applied: bool | None
    uptime_before: float | None
    uptime_after: float | None
    boot_before: float | None
    boot_after: float | None
    boot_slack: float
    wrote_nothing: bool
    armed: bool | None
    timer_present: bool | None
    timer_removed_by_us: bool | None
    reachable_fresh: bool | None
    converged: bool | None
    checks_ok: bool | None
    import_ok: bool | None
    commit_attempted: bool
    read_after_deadline: bool | None
    rechecked: bool
    revert_fired_by_us: bool
    notes: list[str]
    rebooted: bool | None


@dataclass(frozen=True)
class Verdict:
    """The verdict and the reason an engineer reads in the summary."""

    kind: OutcomeKind
    reason: str
    unknowns: tuple[str, ...] = ()


#: One requirement of a proof: what must hold of the evidence, and the words naming it
#: when it does not.
Requirement = tuple[Callable[[Evidence], bool], str]

_REMOVED_BY_US: Requirement = (
    lambda ev: ev.timer_removed_by_us is True,
    "revert timer not removed and read back gone by us",
)
_TIMER_GONE: Requirement = (
    lambda ev: ev.timer_present is False,
    "revert timer absence not read back",
)
_FRESH: Requirement = (
    lambda ev: ev.reachable_fresh is True,
    "no fresh connection after the change",
)
_CONVERGED: Requirement = (
    lambda ev: ev.converged is True,
    "running config not read back equal to the target",
)
_TARGET_HASH: Requirement = (
    lambda ev: ev.target_hash is None or ev.after_hash == ev.target_hash,
    "running config hash differs from the target hash",
)
_CHECKS: Requirement = (lambda ev: ev.checks_ok is not False, "a health check failed")
_HASHES_READ: Requirement = (
    lambda ev: ev.pre_hash is not None and ev.after_hash is not None,
    "running config hash not read back",
)
#: (Only said once both hashes were read.)
_PRE_PUSH_CONFIG: Requirement = (
    lambda ev: ev.pre_hash is None or ev.after_hash is None or ev.after_hash == ev.pre_hash,
    "running config differs from the pre-push config",
)
_NOT_PRE_PUSH_CONFIG: Requirement = (
    lambda ev: ev.pre_hash is None or ev.after_hash is None or ev.after_hash != ev.pre_hash,
    "running config equals the pre-push config (a revert looks the same)",
)

#: Committed: removed by us and read back gone, on a fresh connection, converged, up.
_COMMITTED: tuple[Requirement, ...] = (
    _REMOVED_BY_US,
    _TIMER_GONE,
    _FRESH,
    _CONVERGED,
    _TARGET_HASH,
    _CHECKS,
    (lambda ev: ev.import_ok is not False, "the import reported an error"),
    (lambda ev: ev.rebooted() is False, "uptime does not prove the device stayed up"),
)
#: Committed, the commit's removal landed but its read-back was lost (module notes).
_COMMITTED_AFTER_RESTART: tuple[Requirement, ...] = (
    (lambda ev: bool(ev.commit_attempted or ev.rechecked), "no verified commit was under way"),
    _TIMER_GONE,
    _FRESH,
    (lambda ev: ev.read_after_deadline is True, "not read back after the revert deadline"),
    _CONVERGED,
    _TARGET_HASH,
    _HASHES_READ,
    _NOT_PRE_PUSH_CONFIG,
    _CHECKS,
    (
        lambda ev: ev.import_ok is True or (ev.import_ok is None and bool(ev.rechecked)),
        "the import did not report success",
    ),
)
_REVERTED: tuple[Requirement, ...] = (
    (lambda ev: ev.rebooted() is True, "uptime does not show a reboot"),
    _TIMER_GONE,
    _HASHES_READ,
    _PRE_PUSH_CONFIG,
)
_FAILED: tuple[Requirement, ...] = (
    (lambda ev: ev.applied is False, "the change may have been applied"),
    _TIMER_GONE,
    _HASHES_READ,
    _PRE_PUSH_CONFIG,
)


def _missing(ev: Evidence, proof: tuple[Requirement, ...]) -> list[str]:
    """What of ``proof`` the evidence does not show (empty: proven)."""
    return [words for holds, words in proof if not holds(ev)]


def _is_committed(ev: Evidence) -> tuple[bool, list[str]]:
    missing = _missing(ev, _COMMITTED)
    return not missing, missing


def _is_committed_after_restart(ev: Evidence) -> tuple[bool, list[str]]:
    missing = _missing(ev, _COMMITTED_AFTER_RESTART)
    return not missing, missing


def _is_reverted(ev: Evidence) -> tuple[bool, list[str]]:
    missing = _missing(ev, _REVERTED)
    return not missing, missing


def _is_failed(ev: Evidence) -> tuple[bool, list[str]]:
    if ev.wrote_nothing:
        return True, []
    missing = _missing(ev, _FAILED)
    return not missing, missing


def _failed(ev: Evidence, failure: str | None) -> Verdict:
    reason = (
        "no write command was sent to the device"
        if ev.wrote_nothing
        else "nothing applied; running config == pre-push, no timer armed"
    )
    return Verdict("failed", f"{failure}; {reason}" if failure else reason)


def classify(ev: Evidence, *, failure: str | None = None) -> Verdict:
    """The outcome the evidence proves, or ``uncertain`` naming what is unknown.

    ``failure`` is the controller's account of what went wrong (an import error, a
    failed check, a refused preflight); it only shapes the reason text, never the kind.
    """
    ok, _ = _is_committed(ev)
    if ok:
        return Verdict("committed", "target config running, fresh connection, timer removed")
    ok, _ = _is_committed_after_restart(ev)
    if ok:
        reason = (
            "target config running (not the pre-push one) on a fresh connection after the "
            "revert deadline, timer gone: our removal landed and the revert point was "
            "never loaded"
        )
        return Verdict("committed", f"{failure}; then {reason}" if failure else reason)
    if ev.applied is False:  # nothing applied: "failed" says more than a reboot would
        ok, _ = _is_failed(ev)
        if ok:
            return _failed(ev, failure)
    ok, _ = _is_reverted(ev)
    if ok:
        why = "revert point loaded by tikguard" if ev.revert_fired_by_us else "device reverted"
        reason = f"{why}: rebooted, timer gone, running config == pre-push"
        return Verdict("reverted", f"{failure}; {reason}" if failure else reason)
    ok, _ = _is_failed(ev)
    if ok:
        return _failed(ev, failure)
    # Name what blocks the closest claim: after applying, prove a revert; before, a failure.
    if ev.applied is False:
        _, missing = _is_failed(ev)
    elif ev.timer_removed_by_us is True:
        _, missing = _is_committed(ev)
    elif (
        (ev.commit_attempted or ev.rechecked)
        and ev.pre_hash is not None
        and ev.after_hash != ev.pre_hash
    ):
        _, missing = _is_committed_after_restart(ev)
    else:
        _, missing = _is_reverted(ev)
    reason = "; ".join(missing)
    if failure:
        reason = f"{failure}; {reason}"
    return Verdict("uncertain", f"not proven: {reason}", tuple(missing))
