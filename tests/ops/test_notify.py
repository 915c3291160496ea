"""Notifications end to end: facts in the store -> events -> durable deliveries to real
receivers (an HTTP server in this process, aiosmtpd with STARTTLS and AUTH)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from tests.conftest import SIM_TIME_SCALE
from tests.ops.receivers import http_receiver, smtp_receiver

from tikguard.ops import backup as backup_ops
from tikguard.ops import devices as device_ops
from tikguard.ops import notify, runtime
from tikguard.ops.notify import delivery
from tikguard.ops.notify import workflow as notify_workflow
from tikguard.settings import Settings
from tikguard.sim.fleet import SimFleet
from tikguard.store import notify as store_notify
from tikguard.store import operations as store_ops
from tikguard.store.db import Database
from tikguard.store.devices import add_device, check_host_key, get_device_by_name
from tikguard.store.models import Rollout, RolloutTarget

PUBLIC = "https://tikguard.example.net"
SECRET_VALUES = ("Tr0ub4dor-3", "T0KEN-in-path", "smtp-Pa55word")


def _settings(tmp_path: Path, **extra: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "time_scale": SIM_TIME_SCALE,
        "connect_timeout": 100.0,
        "command_timeout": 100.0,
        "backup_timeout": 150.0,
        "engine_polling_interval": 0.05,
        "notify_interval": 0.1,
        "notify_backoff": 0.1,
        "notify_attempts": 4,
        "notify_timeout": 5.0,
        "public_url": PUBLIC,
        # the receivers are on loopback: a lab allows it, as docs/notifications.md says
        "outbound_allow": "127.0.0.1/32",
    }
    return Settings(**{**values, **extra})  # type: ignore[arg-type]


async def _until(what: str, check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _final_attempts(db: Database, tenant_id: int, channel: str) -> list[notify.AttemptView]:
    rows = notify.attempts(db, tenant_id, channel=channel)
    return rows if any(r.final for r in rows) else []


async def test_a_change_with_secrets_reaches_every_channel_without_them(
    tmp_path: Path, sim_fleet_factory: Callable[..., Awaitable[SimFleet]]
) -> None:
    """A router changed outside tikguard (a new PPP secret): the JSON webhook fails twice
    and then takes it (3 recorded tries, signed, one delivery id), Slack, Teams and mail
    (STARTTLS + AUTH) get it once; no secret value in any payload or at rest."""
    settings = _settings(tmp_path)
    db = Database.open(settings)
    tenant_id = device_ops.default_tenant_id(db)
    fleet = await sim_fleet_factory(1)
    sim_router = fleet[0]
    rows = device_ops.parse_inventory(fleet.inventory_csv())
    device_ops.import_rows(db, tenant_id, rows, actor="test")
    await backup_ops.backup(db, settings, tenant_id)

    with (
        http_receiver(fail_first=2) as hook,
        http_receiver() as slack,
        http_receiver() as teams,
        smtp_receiver() as smtp,
    ):
        added = notify.add_webhook(
            db, settings, tenant_id, notify.WebhookChannel("ops-json", hook.url), actor="test"
        )
        secret = added.generated_secret
        assert secret
        for name, url, fmt in (("chat", slack.url, "slack"), ("teams", teams.url, "teams")):
            hook_spec = notify.WebhookChannel(name, url, format=fmt)  # type: ignore[arg-type]
            notify.add_webhook(db, settings, tenant_id, hook_spec, actor="test")
        mail = notify.EmailChannel(
            name="noc-mail",
            host=smtp.host,
            port=smtp.port,
            sender="tikguard@example.net",
            to=["noc@example.net"],
            username=smtp.user,
            password=smtp.password,
            ca_pem=smtp.ca_pem,
        )
        notify.add_email(db, settings, tenant_id, mail, actor="test")
        for channel in ("ops-json", "chat", "teams", "noc-mail"):
            rule = notify.Rule(f"changes-{channel}", channel, events=["config-changed"])
            notify.add_rule(db, tenant_id, rule, actor="test")
        await sim_router.router.execute(
            "/ppp secret add name=bob password=Tr0ub4dor-3", user="admin"
        )
        await backup_ops.backup(db, settings, tenant_id)

        async with runtime.running(settings), notify.watching():
            await _until(
                "every channel's final attempt",
                lambda: all(
                    _final_attempts(db, tenant_id, c)
                    for c in ("ops-json", "chat", "teams", "noc-mail")
                ),
            )

    tries = sorted(notify.attempts(db, tenant_id, channel="ops-json"), key=lambda a: a.attempt)
    assert [(t.attempt, t.ok, t.final) for t in tries] == [
        (1, False, False),
        (2, False, False),
        (3, True, True),
    ]
    assert tries[0].status.startswith("HTTP 503")
    assert hook.answered == [503, 503, 200]
    assert len({r.headers["X-Tikguard-Delivery"] for r in hook.requests}) == 1
    last = hook.requests[-1]
    stamp = last.headers["X-Tikguard-Timestamp"]
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + last.body, hashlib.sha256)
    assert last.headers["X-Tikguard-Signature"] == "sha256=" + mac.hexdigest()
    doc = last.json()
    assert doc["event"] == "config-changed" and doc["device"] == sim_router.name
    assert doc["link"].startswith(f"{PUBLIC}/devices/")
    assert "/ppp secret" in doc["details"]["diff"]
    assert doc["details"]["summary"]["added"] >= 1

    assert len(slack.requests) == 1 and "configuration changed" in slack.requests[0].json()["text"]
    card = teams.requests[0].json()["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["actions"][0]["url"].startswith(PUBLIC)

    assert smtp.logins == [smtp.user] and len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert "configuration changed outside tikguard" in mail["Subject"]
    assert "/ppp secret" in mail.get_payload()

    payloads = [r.body for h in (hook, slack, teams) for r in h.requests] + smtp.raw
    for body in payloads:
        for value in SECRET_VALUES:
            assert value.encode() not in body
    db.dispose()
    for path in (tmp_path / "data").glob("*.sqlite*"):
        raw = path.read_bytes()
        for value in SECRET_VALUES[1:]:  # channel secrets are encrypted at rest
            assert value.encode() not in raw, f"{value} in {path.name}"


async def test_a_reverted_push_is_told_once_with_its_diff_and_a_4xx_is_not_retried(
    tmp_path: Path,
) -> None:
    """A push that ended reverted is one event however often the watcher looks and however
    often its deliveries are queued; a receiver answering 404 gets one try, not six."""
    settings = _settings(tmp_path)
    db = Database.open(settings)
    tenant_id = device_ops.default_tenant_id(db)
    with db.transaction() as session:
        device = add_device(session, tenant_id, name="edge-1", host="192.0.2.1", username="u")
        op, _ = store_ops.create_operation(
            session, tenant_id, kind="push", device_id=device.id, requested_by="user:ana"
        )
        store_ops.append_event(
            session,
            tenant_id,
            op.id,
            stage="plan",
            message="change planned",
            data={
                "plan": {
                    "diff": "/ip address\n+ add address=10.9.9.1/24 interface=ether9",
                    "summary": {"added": 1, "removed": 0, "changed": 0, "moved": 0},
                }
            },
        )
        store_ops.finish_operation(
            session, tenant_id, op.id, "reverted", evidence={"reason": "lost the router"}
        )
        op_id = op.id
    slow = settings.with_(notify_backoff=3600.0)
    with (
        http_receiver() as hook,
        http_receiver(status=404) as gone,
        http_receiver(fail_first=99) as down,
    ):
        for name, receiver in (("hook", hook), ("gone", gone), ("down", down)):
            hook_spec = notify.WebhookChannel(name, receiver.url)
            notify.add_webhook(db, settings, tenant_id, hook_spec, actor="t")
            notify.add_rule(db, tenant_id, notify.Rule(name, name), actor="t")
        async with runtime.running(settings.with_(notify_interval=3600.0)) as engine:
            assert await notify.look(db, slow) == (1, 3)
            assert await notify.look(db, slow) == (0, 0)
            with db.transaction() as session:  # as if a worker died before marking it
                for event in store_notify.list_events(session, tenant_id):
                    event.dispatched_at = None
            assert await notify_workflow.dispatch(db, slow) == 3
            await _until(
                "the deliveries' first tries",
                lambda: (
                    all(_final_attempts(db, tenant_id, c) for c in ("hook", "gone"))
                    and bool(notify.attempts(db, tenant_id, channel="down"))
                ),
            )
            # a CLI that ran the engine exits while a delivery sleeps before its next try
            await asyncio.wait_for(engine.wait_idle(), 30)
    assert [a.final for a in notify.attempts(db, tenant_id, channel="down")] == [False]
    assert len(hook.requests) == 1
    assert gone.answered == [404]
    (tried,) = notify.attempts(db, tenant_id, channel="gone")
    assert tried.final and not tried.ok and tried.status.startswith("HTTP 404")
    doc = hook.requests[0].json()
    assert doc["event"] == "push-reverted"
    assert doc["link"] == f"{PUBLIC}/operations/{op_id}"
    assert doc["details"]["summary"]["added"] == 1 and "10.9.9.1" in doc["details"]["diff"]
    assert doc["details"]["reason"] == "lost the router"
    db.dispose()


def test_backup_failing_fires_once_when_the_streak_reaches_n(tmp_path: Path) -> None:
    """Three failed backups in a row of a router tagged core: the rule with N=3 and
    tag core sends on the third only; a rule for another site never does."""
    settings = _settings(tmp_path, connect_timeout=2.0, backup_timeout=5.0, time_scale=1.0)
    db = Database.open(settings)
    tenant_id = device_ops.default_tenant_id(db)
    with db.transaction() as session:
        add_device(
            session,
            tenant_id,
            name="dead",
            host="127.0.0.1",
            port=1,
            username="u",
            tags=["core"],
            site="ams",
        )
    hook = notify.WebhookChannel("hook", "http://127.0.0.1:9/")
    notify.add_webhook(db, settings, tenant_id, hook, actor="t")
    core = notify.Rule("core", "hook", events=["backup-failing"], tags=["core"])
    notify.add_rule(db, tenant_id, core, actor="t")
    notify.add_rule(db, tenant_id, notify.Rule("rtm", "hook", sites=["rtm"]), actor="t")
    sent: list[list[delivery.Route]] = []
    for _ in range(4):
        results = asyncio.run(backup_ops.backup(db, settings, tenant_id))
        assert [r.status.value for r in results] == ["failed"]
        notify_workflow.record_facts(db, settings)
        ids, routes = notify_workflow._undispatched(db)
        with db.transaction() as session:
            store_notify.mark_dispatched(session, ids, store_notify.utcnow())
        sent.append(routes)
    assert [[r.rules for r in routes] for routes in sent] == [[], [], [("core",)], []]
    with db.session() as session:
        assert get_device_by_name(session, tenant_id, "dead").backup_failures == 4
    db.dispose()


def test_store_facts_become_events_once(tmp_path: Path, database_url: str) -> None:
    """A changed host key and a failed push are one event each, however often the
    watcher looks (on SQLite and PostgreSQL: the dedupe is SQL)."""
    settings = _settings(tmp_path, database_url=database_url)
    db = Database.open(settings)
    tenant_id = device_ops.default_tenant_id(db)
    keys = [
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKq6mfX1dZZ/tHIbUkUsmGxHpHGnVMo2sEvaHqFmFRtu",
    ]
    with db.transaction() as session:
        device = add_device(session, tenant_id, name="r1", host="192.0.2.2", username="u")
        check_host_key(session, tenant_id, device.id, keys[0])
        check_host_key(session, tenant_id, device.id, keys[1])
        op, _ = store_ops.create_operation(session, tenant_id, kind="push", device_id=device.id)
        store_ops.finish_operation(session, tenant_id, op.id, "failed", error="preflight: no")
        session.add(Rollout(id="r0ll", tenant_id=tenant_id, state="halted", source_enc=b"-"))
        session.flush()
        session.add(
            RolloutTarget(
                tenant_id=tenant_id,
                rollout_id="r0ll",
                device_id=device.id,
                device_name="r1",
                position=0,
                wave=0,
                status="done",
                outcome="reverted",
            )
        )
    hook = notify.WebhookChannel("hook", "http://127.0.0.1:9/")
    notify.add_webhook(db, settings, tenant_id, hook, actor="t")
    notify.add_rule(db, tenant_id, notify.Rule("all", "hook"), actor="t")
    assert notify_workflow.record_facts(db, settings) == 3
    assert notify_workflow.record_facts(db, settings) == 0
    with db.session() as session:
        events = {e.kind: e for e in store_notify.list_events(session, tenant_id)}
        halted = events["rollout-halted"]
        assert [r.rules for r in delivery.routes(session, halted)] == [("all",)]
    assert set(events) == {"host-key-changed", "push-failed", "rollout-halted"}
    assert halted.details["failed"] == ["r1: reverted"] and halted.details["device_ids"]
    key = events["host-key-changed"]
    assert key.details["presented"].startswith("SHA256:")
    assert "accept-hostkey r1" in key.details["hint"]
    assert events["push-failed"].details["reason"] == "preflight: no"
    db.dispose()


@pytest.mark.parametrize(
    ("url", "fmt", "error"),
    [
        ("ftp://x/", "json", "must be http"),
        ("http://h:99999/", "json", "not a URL"),
        ("http://[::1/", "json", "not a URL"),
        ("https://hooks.example.net/x", "xml", "unknown webhook format"),
    ],
)
def test_bad_channels_are_refused_clearly(tmp_path: Path, url: str, fmt: str, error: str) -> None:
    settings = _settings(tmp_path)
    db = Database.open(settings)
    tenant_id = device_ops.default_tenant_id(db)
    with pytest.raises(ValueError, match=error):
        hook = notify.WebhookChannel("x", url, format=fmt)  # type: ignore[arg-type]
        notify.add_webhook(db, settings, tenant_id, hook, actor="t")
    mail = notify.EmailChannel(
        "m", "mx", "a@b.c", ["d@e.f"], port=25, security="none", username="u", password="p"
    )
    with pytest.raises(ValueError, match="in clear"):
        notify.add_email(db, settings, tenant_id, mail, actor="t")
    with pytest.raises(ValueError, match="unknown event kind"):
        notify.add_rule(db, tenant_id, notify.Rule("r", "x", events=["nope"]), actor="t")
    assert notify.list_channels(db, tenant_id) == []
    db.dispose()


def test_payload_formats_are_json_documents(tmp_path: Path) -> None:
    """Each format renders from one event (a cheap check beside the live ones)."""
    from tikguard.ops.notify import message
    from tikguard.store.models import NotifyEvent, utcnow

    event = NotifyEvent(
        id=7,
        tenant_id=1,
        key="k",
        kind="push-failed",
        title="r1: push failed",
        at=utcnow(),
        details={"reason": "x", "link": "/operations/abc", "summary": {"added": 2}},
        device_name="r1",
        operation_id="abc",
    )
    msg = message.build(event, "acme", PUBLIC)
    for fmt in message.FORMATS:
        json.dumps(message.webhook_body(msg, fmt))
    assert msg.link == f"{PUBLIC}/operations/abc"
    assert "diff: 2 added" in msg.lines
