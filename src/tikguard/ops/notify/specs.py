"""What a caller asks for when it adds a channel or a rule: one typed model each.

The CLI builds these from its options, the API takes them as its request bodies (the
constraints below are its OpenAPI schema, unknown fields are refused), and the service
checks them the same way whoever called. Secrets stay out of ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

Name = Annotated[str, Field(min_length=1, max_length=64)]
Words = Annotated[list[Annotated[str, Field(min_length=1, max_length=128)]], Field(max_length=100)]
Pem = Annotated[str | None, Field(max_length=65536)]
_STRICT = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class WebhookChannel:
    """A webhook: signed JSON, or a Slack/Mattermost or Teams payload."""

    __pydantic_config__ = _STRICT

    name: Name
    #: The receiver's URL (stored encrypted: a Slack URL's path is its credential).
    url: Annotated[str, Field(min_length=1, max_length=2000)] = field(repr=False)
    format: Literal["json", "slack", "teams"] = "json"
    #: Omit to have one generated (returned once when the channel is added).
    signing_secret: Annotated[str | None, Field(max_length=200)] = field(default=None, repr=False)
    #: PEM CA certificate(s) the receiver's TLS certificate is from.
    ca_pem: Pem = None


@dataclass(frozen=True)
class EmailChannel:
    """An SMTP mailbox; a login needs STARTTLS or TLS."""

    __pydantic_config__ = _STRICT

    name: Name
    host: Annotated[str, Field(min_length=1, max_length=255)]
    sender: Annotated[str, Field(min_length=3, max_length=254)]
    to: Annotated[list[str], Field(min_length=1, max_length=50)]
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: Annotated[str, Field(max_length=200)] = ""
    password: Annotated[str, Field(max_length=500)] = field(default="", repr=False)
    ca_pem: Pem = None


@dataclass(frozen=True)
class Rule:
    """These event kinds (none: all) of routers with these tags/sites (none: any)."""

    __pydantic_config__ = _STRICT

    name: Name
    channel: Name
    events: Words = field(default_factory=list)
    tags: Words = field(default_factory=list)
    sites: Words = field(default_factory=list)
    #: ``backup-failing`` fires when a router's failures in a row reach this.
    backup_failures: Annotated[int, Field(ge=1, le=1000)] = 3
