"""Reading an HTTP JSON inventory source (Oxidized's http source, NetBox's device API).

A GET with the source's headers (kept encrypted: an API token is one), a JSON answer,
the hosts at ``hosts_location``; with pagination, the page's ``next`` URL is followed
(NetBox: ``{"count": .., "next": "https://.../?limit=50&offset=50", "results": [..]}``)
until it is null. Every failure is one :class:`SourceUnavailable` naming the URL (its
path, never its query or credentials) and what went wrong; nothing is imported then.

Redirects are not followed (the token would go along to wherever they point), a
``next`` URL must stay on the configured scheme, host and port, and every connection
goes through ``ops/outbound.py`` (the controller is no scanner of its own networks).
"""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from tikguard.ops import outbound
from tikguard.ops.inventory.formats import hosts_of
from tikguard.settings import Settings
from tikguard.store.errors import InvalidInput, StateError

#: The largest answer read from one page.
MAX_PAGE_BYTES = 32 * 1024 * 1024
#: The most pages one sync follows (a loop of ``next`` links ends here).
MAX_PAGES = 1000


class SourceUnavailable(StateError):
    """The source could not be read; nothing was changed."""


@dataclass(frozen=True)
class HttpSource:
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    hosts_location: str | None = None
    pagination: bool = False
    pagination_key: str = "next"
    timeout: float = 60.0
    verify_tls: bool = True


def shown(url: str) -> str:
    """A URL as errors and listings show it: scheme, host, port and path only."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"url {shown(url)!r} must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise InvalidInput(
            "url: put credentials in a header (--header 'Authorization: Token ...'), not in the URL"
        )
    return url


def _get(source: HttpSource, settings: Settings, url: str) -> object:
    context = ssl.create_default_context()
    if not source.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    where = f"GET {shown(url)}"
    try:
        answer = outbound.http_request(
            url,
            settings=settings,
            headers={"Accept": "application/json", **source.headers},
            timeout=source.timeout,
            context=context,
            max_bytes=MAX_PAGE_BYTES,
        )
    except outbound.Refused as exc:
        raise SourceUnavailable(f"{where}: {exc}", hint=exc.hint) from None
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise SourceUnavailable(
            f"{where} failed: {exc or type(exc).__name__}",
            hint="check the url and that this controller can reach it",
        ) from None
    if 300 <= answer.status < 400:
        raise SourceUnavailable(
            f"{where} answered {answer.status} {answer.reason}, a redirect to "
            f"{shown(urljoin(url, answer.location or ''))}",
            hint="set the source's url to where it redirects (redirects are not followed)",
        )
    if answer.status >= 400:
        raise SourceUnavailable(
            f"{where} answered {answer.status} {answer.reason}", hint=_hint(answer.status)
        )
    if answer.truncated:
        raise SourceUnavailable(f"{where}: the answer is larger than {MAX_PAGE_BYTES} bytes")
    try:
        return json.loads(answer.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceUnavailable(f"{where}: the answer is not JSON ({exc})") from None


def _hint(code: int) -> str | None:
    if code in (401, 403):
        return "check the source's token header (tikguard inventory source add ... --header)"
    if code == 404:
        return "check the source's url"
    return None


def fetch_hosts(source: HttpSource, settings: Settings) -> list[object]:
    """Every host object the source lists, all pages read; blocking (run it in a thread).
    Connections go through ``ops/outbound.py`` (public addresses, or networks the
    controller's operator allows)."""
    check_url(source.url)
    origin = urlsplit(source.url)[:2]
    url: str | None = source.url
    hosts: list[object] = []
    for _ in range(MAX_PAGES):
        assert url is not None
        document = _get(source, settings, url)
        try:
            hosts += hosts_of(document, source.hosts_location)
        except InvalidInput as exc:
            raise SourceUnavailable(f"GET {shown(url)}: {exc}") from None
        if not source.pagination:
            return hosts
        following = document.get(source.pagination_key) if isinstance(document, dict) else None
        if not following:
            return hosts
        url = urljoin(url, str(following))
        if urlsplit(url)[:2] != origin:
            raise SourceUnavailable(
                f"the {source.pagination_key!r} link {shown(url)} leaves {shown(source.url)}",
                hint="the token is only sent to the configured host",
            )
    raise SourceUnavailable(f"{shown(source.url)}: more than {MAX_PAGES} pages")
