"""Notification channels, rules, the events found and every delivery attempt.

A channel's secrets (webhook URL and signing secret, SMTP password) are one JSON blob
encrypted with the tenant's data key, like router passwords; listings never decrypt
it. An event's ``key`` is unique per tenant: the watcher may find the same fact on
every worker and every tick, and only the first insert records it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, undefer

from tikguard.routeros.secrets import redact_data, redact_text
from tikguard.store._util import check_text, decrypt_secrets, encrypt_secrets
from tikguard.store.errors import AlreadyExists, NotFound
from tikguard.store.models import NotifyAttempt, NotifyChannel, NotifyEvent, NotifyRule, utcnow

#: Vault purpose of a channel's secrets (bound to the channel id).
CHANNEL_PURPOSE = "notify-channel"


# --- channels ------------------------------------------------------------------


def add_channel(
    session: Session,
    tenant_id: int,
    *,
    name: str,
    kind: str,
    config: dict[str, Any],
    secrets: dict[str, str],
    created_by: str | None,
) -> NotifyChannel:
    """A new channel; AlreadyExists when the tenant has one of that name."""
    check_text(name, "channel name", max_len=64)
    if _channel(session, tenant_id, name) is not None:
        raise AlreadyExists(f"notification channel {name!r} already exists")
    channel = NotifyChannel(
        tenant_id=tenant_id, name=name, kind=kind, config=dict(config), created_by=created_by
    )
    session.add(channel)
    session.flush()  # the id binds the ciphertext to this row
    channel.secrets_enc = encrypt_secrets(session, tenant_id, CHANNEL_PURPOSE, channel.id, secrets)
    session.flush()
    return channel


def _channel(session: Session, tenant_id: int, name: str) -> NotifyChannel | None:
    return session.scalar(
        select(NotifyChannel).where(
            NotifyChannel.tenant_id == tenant_id, NotifyChannel.name == name
        )
    )


def get_channel(session: Session, tenant_id: int, name: str) -> NotifyChannel:
    found = _channel(session, tenant_id, name)
    if found is None:
        raise NotFound(f"no notification channel named {name!r}", hint="tikguard notify list")
    return found


def channel_by_id(session: Session, tenant_id: int, channel_id: int) -> NotifyChannel | None:
    return session.scalar(
        select(NotifyChannel)
        .options(undefer(NotifyChannel.secrets_enc))
        .where(NotifyChannel.tenant_id == tenant_id, NotifyChannel.id == channel_id)
    )


def channel_secrets(session: Session, channel: NotifyChannel) -> dict[str, str]:
    """The channel's decrypted secrets (for sending only; never log or return them)."""
    found = decrypt_secrets(
        session, channel.tenant_id, CHANNEL_PURPOSE, channel.id, channel.secrets_enc
    )
    return {str(k): str(v) for k, v in found.items()}


def list_channels(session: Session, tenant_id: int) -> list[NotifyChannel]:
    return list(
        session.scalars(
            select(NotifyChannel)
            .where(NotifyChannel.tenant_id == tenant_id)
            .order_by(NotifyChannel.name)
        )
    )


def remove_channel(session: Session, tenant_id: int, name: str) -> int:
    """Remove a channel and its rules (attempts keep its name); returns the rules removed."""
    channel = get_channel(session, tenant_id, name)
    rules = len(list_rules(session, tenant_id, channel_id=channel.id))
    session.delete(channel)
    session.flush()
    return rules


# --- rules ---------------------------------------------------------------------


def add_rule(
    session: Session,
    tenant_id: int,
    *,
    name: str,
    channel_id: int,
    events: list[str],
    tags: list[str],
    sites: list[str],
    backup_failures: int,
    created_by: str | None,
) -> NotifyRule:
    check_text(name, "rule name", max_len=64)
    if _rule(session, tenant_id, name) is not None:
        raise AlreadyExists(f"notification rule {name!r} already exists")
    rule = NotifyRule(
        tenant_id=tenant_id,
        name=name,
        channel_id=channel_id,
        events=list(events),
        tags=list(tags),
        sites=list(sites),
        backup_failures=backup_failures,
        enabled=True,
        created_by=created_by,
    )
    session.add(rule)
    session.flush()
    return rule


def _rule(session: Session, tenant_id: int, name: str) -> NotifyRule | None:
    return session.scalar(
        select(NotifyRule).where(NotifyRule.tenant_id == tenant_id, NotifyRule.name == name)
    )


def get_rule(session: Session, tenant_id: int, name: str) -> NotifyRule:
    found = _rule(session, tenant_id, name)
    if found is None:
        raise NotFound(f"no notification rule named {name!r}", hint="tikguard notify list")
    return found


def list_rules(
    session: Session, tenant_id: int, *, channel_id: int | None = None, enabled_only: bool = False
) -> list[NotifyRule]:
    query = select(NotifyRule).where(NotifyRule.tenant_id == tenant_id)
    if channel_id is not None:
        query = query.where(NotifyRule.channel_id == channel_id)
    if enabled_only:
        query = query.where(NotifyRule.enabled.is_(True))
    return list(session.scalars(query.order_by(NotifyRule.name)))


def remove_rule(session: Session, tenant_id: int, name: str) -> None:
    session.delete(get_rule(session, tenant_id, name))
    session.flush()


def wanted_kinds(session: Session) -> dict[int, set[str] | None]:
    """Per tenant with an enabled rule, the event kinds its rules name (None: a rule
    names none, so every kind): the only facts the watcher looks for."""
    out: dict[int, set[str] | None] = {}
    query = select(NotifyRule.tenant_id, NotifyRule.events).where(NotifyRule.enabled.is_(True))
    for tenant_id, events in session.execute(query).all():
        if not events:
            out[tenant_id] = None
        elif out.get(tenant_id, set()) is not None:
            out[tenant_id] = (out.get(tenant_id) or set()) | {str(e) for e in events}
    return out


# --- events --------------------------------------------------------------------


def record_event(
    session: Session,
    tenant_id: int,
    *,
    key: str,
    kind: str,
    title: str,
    details: dict[str, Any],
    device_id: int | None = None,
    device_name: str | None = None,
    operation_id: str | None = None,
    at: datetime | None = None,
) -> NotifyEvent | None:
    """Record an event once: None when its key is already recorded (by anyone)."""
    cleaned = redact_data(dict(details))
    assert isinstance(cleaned, dict)
    event = NotifyEvent(
        tenant_id=tenant_id,
        key=key[:255],
        kind=kind,
        title=redact_text(title),
        details=cleaned,
        device_id=device_id,
        device_name=device_name,
        operation_id=operation_id,
        at=at or utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(event)
    except IntegrityError:
        return None
    return event


def known_keys(session: Session, tenant_id: int, keys: Iterable[str]) -> set[str]:
    wanted = list(keys)
    if not wanted:
        return set()
    query = select(NotifyEvent.key).where(
        NotifyEvent.tenant_id == tenant_id, NotifyEvent.key.in_(wanted)
    )
    return set(session.scalars(query))


def get_event(session: Session, tenant_id: int, event_id: int) -> NotifyEvent:
    found = session.scalar(
        select(NotifyEvent).where(NotifyEvent.tenant_id == tenant_id, NotifyEvent.id == event_id)
    )
    if found is None:
        raise NotFound(f"notification event {event_id} does not exist")
    return found


def latest_event(session: Session, tenant_id: int, kind: str, device_id: int) -> NotifyEvent | None:
    return session.scalar(
        select(NotifyEvent)
        .where(
            NotifyEvent.tenant_id == tenant_id,
            NotifyEvent.kind == kind,
            NotifyEvent.device_id == device_id,
        )
        .order_by(NotifyEvent.id.desc())
        .limit(1)
    )


def undispatched(session: Session, before: datetime, limit: int = 500) -> list[NotifyEvent]:
    """Events (of every tenant) whose deliveries were not queued, recorded before ``before``."""
    return list(
        session.scalars(
            select(NotifyEvent)
            .where(NotifyEvent.dispatched_at.is_(None), NotifyEvent.at < before)
            .order_by(NotifyEvent.id)
            .limit(limit)
        )
    )


def mark_dispatched(session: Session, event_ids: Iterable[int], at: datetime) -> None:
    ids = list(event_ids)
    if ids:
        session.execute(
            update(NotifyEvent)
            .where(NotifyEvent.id.in_(ids), NotifyEvent.dispatched_at.is_(None))
            .values(dispatched_at=at)
        )


def list_events(session: Session, tenant_id: int, *, limit: int = 50) -> list[NotifyEvent]:
    return list(
        session.scalars(
            select(NotifyEvent)
            .where(NotifyEvent.tenant_id == tenant_id)
            .order_by(NotifyEvent.id.desc())
            .limit(limit)
        )
    )


# --- attempts ------------------------------------------------------------------


def record_attempt(
    session: Session,
    tenant_id: int,
    *,
    event_id: int,
    channel_id: int | None,
    channel_name: str,
    attempt: int,
    ok: bool,
    status: str,
    seconds: float,
    final: bool,
) -> NotifyAttempt:
    row = NotifyAttempt(
        tenant_id=tenant_id,
        event_id=event_id,
        channel_id=channel_id,
        channel_name=channel_name,
        attempt=attempt,
        ok=ok,
        status=redact_text(status)[:2000],
        seconds=round(seconds, 3),
        final=final,
        at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def list_attempts(
    session: Session,
    tenant_id: int,
    *,
    channel_name: str | None = None,
    event_id: int | None = None,
    limit: int = 50,
) -> list[NotifyAttempt]:
    """The tenant's delivery attempts, newest first."""
    query = select(NotifyAttempt).where(NotifyAttempt.tenant_id == tenant_id)
    if channel_name is not None:
        query = query.where(NotifyAttempt.channel_name == channel_name)
    if event_id is not None:
        query = query.where(NotifyAttempt.event_id == event_id)
    return list(session.scalars(query.order_by(NotifyAttempt.id.desc()).limit(limit)))
