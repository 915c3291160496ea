"""What a notification says, in each channel's format.

One :class:`Message` per event (title, a few lines, the diff excerpt, a link to the
page in tikguard), rendered as tikguard's own JSON, a Slack/Mattermost incoming-webhook
payload, a Microsoft Teams Adaptive Card message, or an e-mail. Every text that leaves
goes through :func:`tikguard.routeros.secrets.redact_data` once more here, whatever the
event's source already did: no payload carries a secret value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from tikguard.routeros.secrets import redact_data
from tikguard.store.models import NotifyEvent

#: Webhook payload formats.
FORMATS = ("json", "slack", "teams")
#: Detail keys shown as lines (in this order); ``diff`` is shown as a block.
_SHOWN = (
    "outcome",
    "reason",
    "requested_by",
    "streak",
    "error",
    "wave",
    "failed",
    "version",
    "summary",
    "pinned",
    "presented",
    "hint",
    "message",
)


@dataclass(frozen=True)
class Message:
    event_id: int
    kind: str
    tenant: str
    title: str
    lines: tuple[str, ...]
    diff: str
    link: str | None
    at: str
    device: str | None
    operation: str | None
    details: dict[str, Any]


def _summary(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{v} {k}" for k, v in value.items() if v) or "no item changed"
    return str(value)


def _line(key: str, value: object) -> str:
    if key == "summary":
        return f"diff: {_summary(value)}"
    if isinstance(value, list):
        return f"{key}: {', '.join(str(v) for v in value)}"
    return f"{key}: {value}"


def build(event: NotifyEvent, tenant: str, base_url: str) -> Message:
    """The message of ``event`` (redacted again), with its link made absolute."""
    cleaned = redact_data(dict(event.details))
    assert isinstance(cleaned, dict)
    details: dict[str, Any] = cleaned
    link = details.pop("link", None)
    lines = tuple(
        _line(key, details[key]) for key in _SHOWN if details.get(key) not in (None, "", [], {})
    )
    title = redact_data(event.title)
    return Message(
        event_id=event.id,
        kind=event.kind,
        tenant=tenant,
        title=str(title),
        lines=lines,
        diff=str(details.get("diff") or ""),
        link=f"{base_url}{link}" if isinstance(link, str) and link.startswith("/") else None,
        at=event.at.isoformat(),
        device=event.device_name,
        operation=event.operation_id,
        details=details,
    )


def webhook_body(msg: Message, fmt: str) -> dict[str, Any]:
    """The JSON body for a webhook of format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "slack":
        return _slack(msg)
    if fmt == "teams":
        return _teams(msg)
    return {
        "id": msg.event_id,
        "event": msg.kind,
        "tenant": msg.tenant,
        "title": msg.title,
        "device": msg.device,
        "operation": msg.operation,
        "at": msg.at,
        "link": msg.link,
        "details": msg.details,
    }


def _slack(msg: Message) -> dict[str, Any]:
    """Slack's and Mattermost's incoming webhooks both take ``text`` with their common
    markdown: bold title, lines, a fenced diff, the plain link (both make it clickable)."""
    parts = [f"*[{msg.tenant}] {msg.title}*", *msg.lines]
    if msg.diff:
        parts.append(f"```\n{msg.diff}\n```")
    if msg.link:
        parts.append(msg.link)
    return {"text": "\n".join(parts), "username": "tikguard"}


def _teams(msg: Message) -> dict[str, Any]:
    """A message with one Adaptive Card: what a Teams channel's workflow webhook posts."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": f"[{msg.tenant}] {msg.title}",
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        *({"type": "TextBlock", "text": line, "wrap": True} for line in msg.lines),
    ]
    if msg.diff:
        body.append({"type": "TextBlock", "text": msg.diff, "fontType": "Monospace", "wrap": True})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if msg.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in tikguard", "url": msg.link}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


def email(msg: Message, sender: str, recipients: list[str]) -> EmailMessage:
    """A plain-text mail: the title as subject, lines, the diff, the link."""
    mail = EmailMessage()
    mail["Subject"] = f"[tikguard {msg.tenant}] {msg.title}"
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Message-ID"] = make_msgid(domain="tikguard")
    mail["Date"] = format_datetime(datetime.fromisoformat(msg.at))
    mail["X-Tikguard-Event"] = msg.kind
    body = [msg.title, "", *msg.lines]
    if msg.diff:
        body += ["", msg.diff]
    if msg.link:
        body += ["", f"Open in tikguard: {msg.link}"]
    mail.set_content("\n".join(body) + "\n")
    return mail
