"""Outcome classification: never committed or reverted without the evidence DESIGN.md demands."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tikguard.ops.push.evidence import Evidence, classify

PRE, TARGET, OTHER = "pre", "target", "other"

maybe_bool = st.one_of(st.none(), st.booleans())
maybe_hash = st.one_of(st.none(), st.sampled_from([PRE, TARGET, OTHER]))
maybe_time = st.one_of(st.none(), st.floats(min_value=0, max_value=1e6, allow_nan=False))


@st.composite
def evidence(draw: st.DrawFn) -> Evidence:
    return Evidence(
        pre_hash=draw(st.one_of(st.none(), st.just(PRE))),
        target_hash=draw(st.one_of(st.none(), st.just(TARGET))),
        after_hash=draw(maybe_hash),
        applied=draw(maybe_bool),
        uptime_before=draw(maybe_time),
        uptime_after=draw(maybe_time),
        boot_before=draw(maybe_time),
        boot_after=draw(maybe_time),
        armed=draw(maybe_bool),
        timer_present=draw(maybe_bool),
        timer_removed_by_us=draw(maybe_bool),
        reachable_fresh=draw(maybe_bool),
        converged=draw(maybe_bool),
        checks_ok=draw(maybe_bool),
        import_ok=draw(maybe_bool),
        commit_attempted=draw(st.booleans()),
        rechecked=draw(st.booleans()),
        read_after_deadline=draw(maybe_bool),
        revert_fired_by_us=draw(st.booleans()),
    )


GOOD = Evidence(
    pre_hash=PRE,
    target_hash=TARGET,
    after_hash=TARGET,
    applied=True,
    uptime_before=1000,
    uptime_after=1200,
    boot_before=5000,
    boot_after=5001,
    armed=True,
    timer_present=False,
    timer_removed_by_us=True,
    reachable_fresh=True,
    converged=True,
    import_ok=True,
)


@settings(max_examples=800)
@given(evidence())
def test_committed_only_with_full_proof(ev: Evidence) -> None:
    out = classify(ev)
    if out.kind == "committed":
        assert ev.timer_present is False
        assert ev.reachable_fresh is True and ev.converged is True
        assert ev.checks_ok is not False and ev.import_ok is not False
        assert ev.target_hash is None or ev.after_hash == ev.target_hash
        if ev.timer_removed_by_us is True and ev.rebooted() is False:
            return
        # else only the proof after a restart (or a later recheck): read after the
        # deadline, not pre-push
        assert (ev.commit_attempted or ev.rechecked) and ev.read_after_deadline is True
        assert ev.import_ok is True or (ev.rechecked and ev.import_ok is None)
        assert ev.after_hash is not None and ev.pre_hash is not None
        assert ev.after_hash != ev.pre_hash


@settings(max_examples=800)
@given(evidence())
def test_reverted_only_with_full_proof(ev: Evidence) -> None:
    out = classify(ev)
    if out.kind == "reverted":
        assert ev.rebooted() is True
        assert ev.timer_present is False
        assert ev.after_hash is not None and ev.after_hash == ev.pre_hash


@settings(max_examples=800)
@given(evidence())
def test_failed_only_when_nothing_applied_and_read_back(ev: Evidence) -> None:
    out = classify(ev)
    if out.kind == "failed" and not ev.wrote_nothing:
        assert ev.applied is False and ev.timer_present is False
        assert ev.after_hash is not None and ev.after_hash == ev.pre_hash


@settings(max_examples=500)
@given(evidence())
def test_uncertain_names_what_is_unknown(ev: Evidence) -> None:
    out = classify(ev)
    if out.kind == "uncertain":
        assert out.unknowns and out.reason.startswith("not proven")


def test_good_push_is_committed() -> None:
    assert classify(GOOD).kind == "committed"


def test_merge_without_target_hash_commits_on_semantic_convergence() -> None:
    ev = Evidence(**{**GOOD.__dict__, "target_hash": None, "after_hash": OTHER})
    assert classify(ev).kind == "committed"


def test_each_missing_piece_blocks_commit() -> None:
    for change in (
        {"timer_removed_by_us": None},
        {"timer_present": None},
        {"timer_present": True},
        {"reachable_fresh": False},
        {"converged": None},
        {"after_hash": PRE},
        {"checks_ok": False},
        {"boot_after": 5100.0},
        {"boot_after": None},
    ):
        ev = Evidence(**{**GOOD.__dict__, **change})
        assert classify(ev).kind == "uncertain", change


def test_router_reverted_itself() -> None:
    ev = Evidence(
        pre_hash=PRE,
        target_hash=TARGET,
        after_hash=PRE,
        applied=True,
        uptime_before=1000,
        uptime_after=20,
        boot_before=5000,
        boot_after=5150,
        timer_present=False,
        reachable_fresh=False,
    )
    out = classify(ev, failure="management cut")
    assert out.kind == "reverted"
    assert "management cut" in out.reason


def test_reboot_into_other_config_is_uncertain() -> None:
    ev = Evidence(
        pre_hash=PRE,
        after_hash=OTHER,
        applied=True,
        boot_before=1,
        boot_after=500,
        timer_present=False,
    )
    out = classify(ev)
    assert out.kind == "uncertain"
    assert any("differs from the pre-push" in u for u in out.unknowns)


def test_never_came_back_is_uncertain() -> None:
    out = classify(Evidence(pre_hash=PRE, applied=True, uptime_before=100, boot_before=1))
    assert out.kind == "uncertain"


def test_failed_before_apply() -> None:
    ev = Evidence(pre_hash=PRE, after_hash=PRE, applied=False, timer_present=False)
    out = classify(ev, failure="full flash")
    assert out.kind == "failed" and out.reason.startswith("full flash")


def test_reboot_detection() -> None:
    assert Evidence(uptime_before=100, uptime_after=5).rebooted() is True
    assert Evidence(boot_before=10, boot_after=11).rebooted() is False
    assert Evidence(boot_before=10, boot_after=60).rebooted() is True
    assert Evidence(boot_before=100, boot_after=10).rebooted() is None
    assert Evidence().rebooted() is None


#: Power lost right after the commit removed the timer, before its read-back: the proof
#: is read again after the deadline on a fresh connection, the router having restarted.
AFTER_RESTART = Evidence(
    pre_hash=PRE,
    after_hash=OTHER,
    applied=True,
    uptime_before=1000,
    uptime_after=30,
    boot_before=5000,
    boot_after=6300,
    timer_present=False,
    reachable_fresh=True,
    converged=True,
    import_ok=True,
    commit_attempted=True,
    read_after_deadline=True,
)


def test_commit_whose_read_back_was_lost_is_proven_after_the_deadline() -> None:
    out = classify(AFTER_RESTART, failure="commit: connection lost")
    assert out.kind == "committed" and "revert point was never loaded" in out.reason
    assert classify(Evidence(**{**AFTER_RESTART.__dict__, "target_hash": OTHER})).kind == (
        "committed"
    )


def test_anything_weaker_than_the_restart_proof_stays_uncertain() -> None:
    for change in (
        {"commit_attempted": False},
        {"timer_present": None},
        {"timer_present": True},
        {"reachable_fresh": False},
        {"read_after_deadline": None},
        {"read_after_deadline": False},
        {"converged": None},
        {"converged": False},
        {"after_hash": None},
        {"pre_hash": None},
        {"target_hash": TARGET},
        {"checks_ok": False},
        {"import_ok": None},
    ):
        ev = Evidence(**{**AFTER_RESTART.__dict__, **change})
        assert classify(ev).kind == "uncertain", change
    # config == pre-push after the restart is a revert, never a commit
    back = Evidence(**{**AFTER_RESTART.__dict__, "after_hash": PRE})
    assert classify(back).kind == "reverted"


def test_a_recheck_proves_committed_only_like_the_restart_proof() -> None:
    """``tikguard ops recheck`` has no commit of its own to point at: the target config
    (not the pre-push one) with no timer, read after the deadline, proves it; an import
    the push never heard back from (None) does not block it, an error does."""
    rechecked = Evidence(**{**AFTER_RESTART.__dict__, "commit_attempted": False, "rechecked": True})
    assert classify(rechecked).kind == "committed"
    assert classify(Evidence(**{**rechecked.__dict__, "import_ok": None})).kind == "committed"
    for change in (
        {"import_ok": False},
        {"read_after_deadline": None},
        {"timer_present": True},
        {"after_hash": PRE},
        {"converged": None},
    ):
        assert classify(Evidence(**{**rechecked.__dict__, **change})).kind != "committed"
