"""Notification channels and rules of a tenant: add, list, remove, test, attempts.

The one service the CLI (``tikguard notify ...``) and the API (``/api/v1/notify/...``)
call; every change is audited with the caller's actor. Secrets (webhook URL, signing
secret, SMTP password) go into the vault and come back from nowhere: a listing shows a
webhook's scheme and host only (a Slack URL's path is its credential), a generated
signing secret is shown once, when the channel is added.
"""

from __future__ import annotations

import re
import secrets as random_secrets
import uuid
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from tikguard.ops import outbound
from tikguard.ops.notify import delivery, message, sources
from tikguard.ops.notify.specs import EmailChannel, Rule, WebhookChannel
from tikguard.settings import Settings
from tikguard.store import notify as store_notify
from tikguard.store._util import check_text
from tikguard.store.audit import audit
from tikguard.store.db import Database
from tikguard.store.errors import InvalidInput, NotFound
from tikguard.store.models import NotifyAttempt, NotifyChannel, NotifyRule

SECURITY = ("starttls", "tls", "none")
_MAX_PEM = 64 * 1024


@dataclass(frozen=True)
class ChannelView:
    name: str
    kind: str
    #: Where it goes, without secrets: ``https://hooks.example.net/…`` or ``smtp host:port``.
    target: str
    format: str | None
    rules: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RuleView:
    name: str
    channel: str
    events: list[str]
    tags: list[str]
    sites: list[str]
    backup_failures: int
    enabled: bool

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AttemptView:
    id: int
    event_id: int
    channel: str
    attempt: int
    at: str
    ok: bool
    final: bool
    status: str
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, row: NotifyAttempt) -> AttemptView:
        return cls(
            row.id,
            row.event_id,
            row.channel_name,
            row.attempt,
            row.at.isoformat(timespec="seconds"),
            row.ok,
            row.final,
            row.status,
            row.seconds,
        )


@dataclass(frozen=True)
class AddedChannel:
    channel: ChannelView
    #: The signing secret when tikguard generated it (shown this once), else None.
    generated_secret: str | None


def _target(channel: NotifyChannel) -> str:
    config = channel.config
    if channel.kind == "webhook":
        return f"{config.get('scheme')}://{config.get('host')}/…"
    to = ", ".join(str(r) for r in config.get("to", []))
    return f"smtp {config.get('host')}:{config.get('port')} ({config.get('security')}) -> {to}"


def _channel_view(channel: NotifyChannel, rules: int) -> ChannelView:
    fmt = channel.config.get("format") if channel.kind == "webhook" else None
    return ChannelView(channel.name, channel.kind, _target(channel), fmt, rules)


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _check_name(name: str, what: str) -> str:
    check_text(name, what, max_len=64)
    if not _NAME.fullmatch(name):
        raise InvalidInput(f"{what} {name!r} must be one word: letters, digits, '.', '-', '_'")
    return name


def _check_pem(ca_pem: str | None) -> str | None:
    if not ca_pem:
        return None
    if len(ca_pem) > _MAX_PEM or "-----BEGIN CERTIFICATE-----" not in ca_pem:
        raise InvalidInput("the CA file must be PEM certificates (-----BEGIN CERTIFICATE-----)")
    return ca_pem


def add_webhook(
    db: Database, settings: Settings, tenant_id: int, spec: WebhookChannel, *, actor: str
) -> AddedChannel:
    """A webhook channel. Without a signing secret one is generated (returned once)."""
    _check_name(spec.name, "channel name")
    check_text(spec.url, "webhook URL", max_len=2000)
    try:
        parts = urlsplit(spec.url)
        port = parts.port
    except ValueError as exc:  # a bad IPv6 literal or port
        raise InvalidInput(f"the webhook URL is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            f"the webhook URL must be http(s)://host/...; got scheme {parts.scheme!r}"
        )
    if spec.format not in message.FORMATS:
        raise InvalidInput(
            f"unknown webhook format {spec.format!r} (one of: {', '.join(message.FORMATS)})"
        )
    outbound.check_host(parts.hostname, settings, "the webhook's host")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    signing_secret, generated = spec.signing_secret, None
    if signing_secret is None:
        signing_secret = generated = random_secrets.token_urlsafe(32)
    check_text(signing_secret, "signing secret", max_len=200, allow_empty=True)
    config = {
        "format": spec.format,
        "scheme": parts.scheme,
        "host": (host if port is None else f"{host}:{port}"),
        "ca_pem": _check_pem(spec.ca_pem),
    }
    secrets = {"url": spec.url, "signing_secret": signing_secret}
    view = _add(db, tenant_id, spec.name, "webhook", config, secrets, actor)
    return AddedChannel(view, generated)


def add_email(
    db: Database, settings: Settings, tenant_id: int, spec: EmailChannel, *, actor: str
) -> ChannelView:
    """An e-mail channel over SMTP. A login needs STARTTLS or TLS: tikguard never sends a
    password in clear."""
    _check_name(spec.name, "channel name")
    check_text(spec.host, "SMTP host", max_len=255)
    if not 0 < spec.port < 65536:
        raise InvalidInput(f"SMTP port {spec.port} is not a port (1-65535)")
    if spec.security not in SECURITY:
        raise InvalidInput(
            f"unknown SMTP security {spec.security!r} (one of: {', '.join(SECURITY)})"
        )
    if (spec.username or spec.password) and spec.security == "none":
        raise InvalidInput(
            "an SMTP login needs --security starttls or tls (it would cross the network in clear)"
        )
    if not spec.to:
        raise InvalidInput("an e-mail channel needs at least one recipient (--to)")
    for address in (spec.sender, *spec.to):
        check_text(address, "e-mail address", max_len=254)
        if "@" not in address or any(c in address for c in " ,;<>"):
            raise InvalidInput(f"{address!r} is not an e-mail address")
    outbound.check_host(spec.host, settings, "the SMTP host")
    config = {
        "host": spec.host,
        "port": spec.port,
        "security": spec.security,
        "username": spec.username,
        "sender": spec.sender,
        "to": list(spec.to),
        "ca_pem": _check_pem(spec.ca_pem),
    }
    return _add(db, tenant_id, spec.name, "email", config, {"password": spec.password}, actor)


def _add(
    db: Database,
    tenant_id: int,
    name: str,
    kind: str,
    config: dict[str, Any],
    secrets: dict[str, str],
    actor: str,
) -> ChannelView:
    def write(session: Any) -> ChannelView:
        channel = store_notify.add_channel(
            session,
            tenant_id,
            name=name,
            kind=kind,
            config=config,
            secrets=secrets,
            created_by=actor,
        )
        audit(
            session,
            tenant_id,
            actor=actor,
            action="notify.channel.add",
            target=name,
            details={"kind": kind, "target": _target(channel)},
        )
        return _channel_view(channel, 0)

    return db.run(write)


def list_channels(db: Database, tenant_id: int) -> list[ChannelView]:
    with db.session() as session:
        rules = store_notify.list_rules(session, tenant_id)
        return [
            _channel_view(c, sum(1 for r in rules if r.channel_id == c.id))
            for c in store_notify.list_channels(session, tenant_id)
        ]


def remove_channel(db: Database, tenant_id: int, name: str, *, actor: str) -> int:
    """Remove a channel and its rules; returns how many rules went with it."""

    def write(session: Any) -> int:
        rules = store_notify.remove_channel(session, tenant_id, name)
        audit(
            session,
            tenant_id,
            actor=actor,
            action="notify.channel.remove",
            target=name,
            details={"rules": rules},
        )
        return rules

    return db.run(write)


def _rule_view(rule: NotifyRule, channel: str) -> RuleView:
    return RuleView(
        rule.name,
        channel,
        list(rule.events),
        list(rule.tags),
        list(rule.sites),
        rule.backup_failures,
        rule.enabled,
    )


def _check_words(values: list[str], what: str) -> list[str]:
    out: list[str] = []
    for value in values:
        check_text(value, what, max_len=128)
        if value not in out:
            out.append(value)
    return out


def add_rule(db: Database, tenant_id: int, spec: Rule, *, actor: str) -> RuleView:
    """A rule: ``events`` (kinds; empty: all), routers by ``tags``/``sites`` (empty: any)."""
    _check_name(spec.name, "rule name")
    unknown = sorted(set(spec.events) - set(sources.KINDS))
    if unknown:
        raise InvalidInput(
            f"unknown event kind {', '.join(unknown)} (one of: {', '.join(sources.KINDS)})"
        )
    if not 1 <= spec.backup_failures <= 1000:
        raise InvalidInput("--backup-failures must be between 1 and 1000")
    tags, sites = _check_words(spec.tags, "tag"), _check_words(spec.sites, "site")
    events = _check_words(spec.events, "event kind")

    def write(session: Any) -> RuleView:
        found = store_notify.get_channel(session, tenant_id, spec.channel)
        rule = store_notify.add_rule(
            session,
            tenant_id,
            name=spec.name,
            channel_id=found.id,
            events=events,
            tags=tags,
            sites=sites,
            backup_failures=spec.backup_failures,
            created_by=actor,
        )
        view = _rule_view(rule, found.name)
        details = view.as_json()
        audit(
            session,
            tenant_id,
            actor=actor,
            action="notify.rule.add",
            target=spec.name,
            details=details,
        )
        return view

    return db.run(write)


def list_rules(db: Database, tenant_id: int) -> list[RuleView]:
    with db.session() as session:
        names = {c.id: c.name for c in store_notify.list_channels(session, tenant_id)}
        return [
            _rule_view(r, names.get(r.channel_id, "?"))
            for r in store_notify.list_rules(session, tenant_id)
        ]


def remove_rule(db: Database, tenant_id: int, name: str, *, actor: str) -> None:
    def write(session: Any) -> None:
        store_notify.remove_rule(session, tenant_id, name)
        audit(session, tenant_id, actor=actor, action="notify.rule.remove", target=name)

    db.run(write)


def test(db: Database, settings: Settings, tenant_id: int, name: str, *, actor: str) -> AttemptView:
    """Send a test message now through the rule ``name``'s channel (or the channel
    ``name``): one try, recorded like any attempt, its answer returned."""

    def write(session: Any) -> tuple[int, int, str]:
        try:
            rule = store_notify.get_rule(session, tenant_id, name)
            channel_id, what = rule.channel_id, f"rule {rule.name}"
        except NotFound:
            try:
                channel = store_notify.get_channel(session, tenant_id, name)
            except NotFound:
                raise NotFound(
                    f"no notification rule or channel named {name!r}", hint="tikguard notify list"
                ) from None
            channel_id, what = channel.id, f"channel {channel.name}"
        event = store_notify.record_event(
            session,
            tenant_id,
            key=f"test:{uuid.uuid4().hex}",
            kind=sources.TEST,
            title=f"test notification ({what})",
            details={
                "message": f"sent by {actor} to check the {what}",
                "link": "/",
            },
        )
        assert event is not None
        event.dispatched_at = event.at  # delivered here, never by the watcher
        audit(session, tenant_id, actor=actor, action="notify.test", target=name)
        return event.id, channel_id, what

    event_id, channel_id, _what = db.run(write)
    route = delivery.Route(tenant_id, event_id, channel_id, (name,))
    delivery.attempt(db, settings, route, 1, True)
    with db.session() as session:
        rows = store_notify.list_attempts(session, tenant_id, event_id=event_id, limit=1)
        return AttemptView.of(rows[0])


def attempts(
    db: Database,
    tenant_id: int,
    *,
    channel: str | None = None,
    event_id: int | None = None,
    limit: int = 50,
) -> list[AttemptView]:
    """Delivery attempts, newest first (of one channel or event when given)."""
    with db.session() as session:
        rows = store_notify.list_attempts(
            session, tenant_id, channel_name=channel, event_id=event_id, limit=limit
        )
        return [AttemptView.of(r) for r in rows]
