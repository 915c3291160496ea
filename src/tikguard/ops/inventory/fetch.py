"""Reading an HTTP JSON inventory source (Oxidized's http source, NetBox's device API).

A GET with the source's headers (kept encrypted: an API token is one), a JSON answer,
the hosts at ``hosts_location``; with pagination, the page's ``next`` URL is followed
(NetBox: ``{"count": .., "next": "https://.../?limit=50&offset=50", "results": [..]}``)
until it is null. Every failure is one :class:`SourceUnavailable` naming the URL (its
path, never its query or credentials) and what went wrong; nothing is imported then.

Redirects are not followed (the token would go along to wherever they point), and a
``next`` URL must stay on the configured scheme, host and port.
"""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from tikguard.ops.inventory.formats import hosts_of
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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> None:
        raise SourceUnavailable(
            f"GET {shown(req.full_url)} answered {code} {msg}, a redirect to {shown(newurl)}",
            hint="set the source's url to where it redirects (redirects are not followed)",
        )


def _get(source: HttpSource, url: str) -> object:
    context = ssl.create_default_context()
    if not source.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(
        _NoRedirect(), urllib.request.HTTPSHandler(context=context)
    )
    request = urllib.request.Request(  # noqa: S310 (check_url allows http(s) only)
        url, headers={"Accept": "application/json", **source.headers}, method="GET"
    )
    where = f"GET {shown(url)}"
    try:
        with opener.open(request, timeout=source.timeout) as answer:
            body = answer.read(MAX_PAGE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise SourceUnavailable(
            f"{where} answered {exc.code} {exc.reason}", hint=_hint(exc.code)
        ) from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise SourceUnavailable(
            f"{where} failed: {reason}", hint="check the url and that this controller can reach it"
        ) from None
    if len(body) > MAX_PAGE_BYTES:
        raise SourceUnavailable(f"{where}: the answer is larger than {MAX_PAGE_BYTES} bytes")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceUnavailable(f"{where}: the answer is not JSON ({exc})") from None


def _hint(code: int) -> str | None:
    if code in (401, 403):
        return "check the source's token header (tikguard inventory source add ... --header)"
    if code == 404:
        return "check the source's url"
    return None


def fetch_hosts(source: HttpSource) -> list[object]:
    """Every host object the source lists, all pages read; blocking (run it in a thread)."""
    check_url(source.url)
    origin = urlsplit(source.url)[:2]
    url: str | None = source.url
    hosts: list[object] = []
    for _ in range(MAX_PAGES):
        assert url is not None
        document = _get(source, url)
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
