"""Notifications: rules over the store's events, delivered durably to webhooks and mail.

See docs/notifications.md. Callers use this face: ``from tikguard.ops import notify``.
"""

from tikguard.ops.notify.service import (
    AddedChannel,
    AttemptView,
    ChannelView,
    RuleView,
    add_email,
    add_rule,
    add_webhook,
    attempts,
    list_channels,
    list_rules,
    remove_channel,
    remove_rule,
    test,
)
from tikguard.ops.notify.sources import (
    COMPLIANCE_RESOLVED,
    COMPLIANCE_VIOLATION,
    KINDS,
    Found,
    emit,
    register_source,
)
from tikguard.ops.notify.specs import EmailChannel, Rule, WebhookChannel
from tikguard.ops.notify.workflow import look, watching

__all__ = [
    "COMPLIANCE_RESOLVED",
    "COMPLIANCE_VIOLATION",
    "KINDS",
    "AddedChannel",
    "AttemptView",
    "ChannelView",
    "EmailChannel",
    "Found",
    "Rule",
    "RuleView",
    "WebhookChannel",
    "add_email",
    "add_rule",
    "add_webhook",
    "attempts",
    "emit",
    "list_channels",
    "list_rules",
    "look",
    "register_source",
    "remove_channel",
    "remove_rule",
    "test",
    "watching",
]
