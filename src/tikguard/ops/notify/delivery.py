"""Which channels an event goes to, and one try to deliver it there (recorded).

A rule matches an event when it names the event's kind (or names none), its tag/site
filters admit one of the event's routers (a rollout's: the routers that failed), and
for ``backup-failing`` the router's streak has just reached the rule's N. One event
goes once to each channel, however many of its rules match.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tikguard.ops.notify import message
from tikguard.ops.notify.send import DELIVERY_HEADER, EVENT_HEADER, Sent, post_webhook, send_mail
from tikguard.ops.notify.sources import BACKUP_FAILING, TEST
from tikguard.settings import Settings
from tikguard.store import notify as store_notify
from tikguard.store.db import Database
from tikguard.store.models import Device, DeviceTag, NotifyChannel, NotifyEvent, NotifyRule
from tikguard.store.tenants import get_tenant


@dataclass(frozen=True)
class Route:
    """One delivery: an event to a channel, for the rules that matched."""

    tenant_id: int
    event_id: int
    channel_id: int
    rules: tuple[str, ...]

    @property
    def workflow_id(self) -> str:
        """Stable: queueing the same delivery twice (two workers, a retry after a crash)
        finds the first workflow instead of sending twice."""
        return f"notify-{self.tenant_id}-{self.event_id}-{self.channel_id}"


def _event_devices(event: NotifyEvent) -> list[int]:
    if event.device_id is not None:
        return [event.device_id]
    found = event.details.get("device_ids")
    return [int(d) for d in found] if isinstance(found, list) else []


def _places(session: Session, tenant_id: int, ids: list[int]) -> list[tuple[str | None, set[str]]]:
    """(site, tags) of each device."""
    if not ids:
        return []
    sites = dict(
        session.execute(
            select(Device.id, Device.site).where(Device.tenant_id == tenant_id, Device.id.in_(ids))
        ).all()
    )
    tags: dict[int, set[str]] = {i: set() for i in sites}
    for device_id, tag in session.execute(
        select(DeviceTag.device_id, DeviceTag.tag).where(DeviceTag.device_id.in_(list(sites)))
    ).all():
        tags[device_id].add(tag)
    return [(sites[i], tags[i]) for i in sites]


def matches(
    rule: NotifyRule, event: NotifyEvent, places: list[tuple[str | None, set[str]]]
) -> bool:
    """Whether ``rule`` sends ``event`` (see the module notes)."""
    if not rule.enabled or event.kind == TEST:
        return False
    if rule.events and event.kind not in rule.events:
        return False
    if event.kind == BACKUP_FAILING:
        streak = int(event.details.get("streak", 0))
        before = int(event.details.get("previous", 0))
        if not before < rule.backup_failures <= streak:
            return False
    if not rule.tags and not rule.sites:
        return True
    return any(
        (not rule.tags or tags & set(rule.tags)) and (not rule.sites or site in rule.sites)
        for site, tags in places
    )


def routes(session: Session, event: NotifyEvent) -> list[Route]:
    """Where ``event`` goes under its tenant's enabled rules now."""
    rules = store_notify.list_rules(session, event.tenant_id, enabled_only=True)
    if not rules:
        return []
    places = _places(session, event.tenant_id, _event_devices(event))
    by_channel: dict[int, list[str]] = {}
    for rule in rules:
        if matches(rule, event, places):
            by_channel.setdefault(rule.channel_id, []).append(rule.name)
    return [
        Route(event.tenant_id, event.id, channel, tuple(names))
        for channel, names in sorted(by_channel.items())
    ]


@dataclass(frozen=True)
class _Prepared:
    channel: NotifyChannel
    secrets: dict[str, str]
    msg: message.Message


def _prepare(db: Database, settings: Settings, route: Route) -> _Prepared | None:
    with db.session() as session:
        channel = store_notify.channel_by_id(session, route.tenant_id, route.channel_id)
        if channel is None:
            return None
        event = store_notify.get_event(session, route.tenant_id, route.event_id)
        tenant = get_tenant(session, route.tenant_id).name
        secrets = store_notify.channel_secrets(session, channel)
        msg = message.build(event, tenant, settings.base_url())
        session.expunge(channel)
        return _Prepared(channel, secrets, msg)


def send(prepared: _Prepared, settings: Settings, delivery: str) -> Sent:
    """Hand the message to the channel's receiver (one try, no record)."""
    channel, secrets, msg = prepared.channel, prepared.secrets, prepared.msg
    config: dict[str, Any] = channel.config
    timeout = settings.notify_timeout
    ca_pem = config.get("ca_pem") or None
    if channel.kind == "webhook":
        body = json.dumps(message.webhook_body(msg, str(config.get("format", "json"))))
        return post_webhook(
            secrets["url"],
            body.encode(),
            settings=settings,
            secret=secrets.get("signing_secret", ""),
            headers={DELIVERY_HEADER: delivery, EVENT_HEADER: msg.kind},
            timeout=timeout,
            ca_pem=ca_pem,
        )
    recipients = [str(r) for r in config.get("to", [])]
    mail = message.email(msg, str(config["sender"]), recipients)
    return send_mail(
        mail,
        settings=settings,
        host=str(config["host"]),
        port=int(config["port"]),
        security=str(config.get("security", "starttls")),
        username=str(config.get("username") or ""),
        password=secrets.get("password", ""),
        timeout=timeout,
        ca_pem=ca_pem,
    )


def attempt(db: Database, settings: Settings, route: Route, number: int, last: bool) -> Sent:
    """Try once to deliver ``route`` and record the attempt (``final`` when it is the
    last: it worked, it cannot work, or no try is left)."""
    started = time.monotonic()
    prepared = _prepare(db, settings, route)
    if prepared is None:
        sent = Sent(False, "the channel was removed", retry=False)
        name = f"#{route.channel_id}"
    else:
        sent = send(prepared, settings, route.workflow_id)
        name = prepared.channel.name
    final = sent.ok or not sent.retry or last
    with db.transaction() as session:
        store_notify.record_attempt(
            session,
            route.tenant_id,
            event_id=route.event_id,
            channel_id=None if prepared is None else route.channel_id,
            channel_name=name,
            attempt=number,
            ok=sent.ok,
            status=sent.status,
            seconds=time.monotonic() - started,
            final=final,
        )
    return sent
