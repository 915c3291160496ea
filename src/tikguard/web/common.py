"""What every UI page shares: templates, the logged-in user, CSRF checks, errors.

Pages are server-rendered and work without JavaScript; the only script streams live
operation events. A page that needs a login redirects to ``/login``; every form
post carries the CSRF token of the session (see :mod:`tikguard.server.sessions`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from tikguard import __version__
from tikguard.ops import fleet as fleet_ops
from tikguard.ops.accounts import AuthError, Principal, principal_for_session
from tikguard.server.errors import ApiError
from tikguard.server.sessions import COOKIE, CSRF_FIELD, Session
from tikguard.server.state import AppState, app_state
from tikguard.store import scope

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def _ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = (datetime.now(UTC) - value).total_seconds()
    if seconds < 60:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def _fact(value: Any) -> str:
    """An evidence value as an engineer reads it (yes / no / not known)."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value is None:
        return "not known"
    if isinstance(value, list | tuple) and not value:
        return "none"
    return str(value)


def _size(value: Any) -> str:
    if not isinstance(value, int | float):
        return "?"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{int(value)} B"


#: The evidence an outcome rests on (docs/push.md, the four outcomes), in reading order.
EVIDENCE_KEYS = (
    ("rebooted", "router rebooted"),
    ("timer_present", "revert timer still present"),
    ("timer_removed_by_us", "revert timer removed by tikguard"),
    ("revert_fired_by_us", "revert fired by tikguard"),
    ("reachable_fresh", "reachable on a fresh connection"),
    ("converged", "running config equals the target"),
    ("checks_ok", "health checks passed"),
    ("pre_hash", "pre-push config hash"),
    ("after_hash", "config hash now"),
    ("target_hash", "target config hash"),
    ("uptime_before", "uptime before (s)"),
    ("uptime_after", "uptime after (s)"),
    ("wrote_nothing", "nothing written"),
    ("outcome_unknowns", "what is not known"),
    ("status", "backup result"),
    ("version", "version"),
)


def _with_query(request: Request, **changes: Any) -> str:
    """This page's URL with some query parameters changed (empty ones dropped): the
    links of filters, sort headers and pages keep every other choice."""
    params = {**request.query_params, **{k: str(v) for k, v in changes.items()}}
    kept = {k: v for k, v in params.items() if v not in ("", "None")}
    return request.url.path + ("?" + urlencode(kept) if kept else "")


templates.env.filters["ago"] = _ago
templates.env.globals["with_query"] = _with_query
templates.env.filters["fact"] = _fact
templates.env.filters["size"] = _size
templates.env.globals["evidence_keys"] = EVIDENCE_KEYS
templates.env.filters["when"] = _when
templates.env.globals["version"] = __version__


@dataclass(frozen=True)
class Viewer:
    """The logged-in user of a page, with what the templates need."""

    principal: Principal
    session: Session
    csrf: str

    @property
    def name(self) -> str:
        return self.principal.actor.removeprefix("user:")

    def can(self, role: str) -> bool:
        return self.principal.allows(role)


class LoginRequired(Exception):
    pass


async def page_user(request: Request) -> Viewer:
    state = app_state(request)
    session = state.signer.read(request.cookies.get(COOKIE))
    if session is None:
        raise LoginRequired
    try:
        principal = await asyncio.to_thread(
            principal_for_session, state.db, session.user_id, session.nonce
        )
    except AuthError:
        raise LoginRequired from None
    scope.set_tenant(principal.tenant_id)  # PostgreSQL row-level security from here on
    return Viewer(principal, session, state.signer.csrf_token(session))


User = Annotated[Viewer, Depends(page_user)]
StateDep = Annotated[AppState, Depends(app_state)]


async def check_form(request: Request, user: Viewer, role: str = "viewer") -> dict[str, Any]:
    """The posted form, after checking its CSRF token and the user's role."""
    form = await request.form()
    state = app_state(request)
    token = form.get(CSRF_FIELD)
    if not isinstance(token, str) or not state.signer.check_csrf(user.session, token):
        raise ApiError(
            403, "the form's security token is missing or old", "reload the page and try again"
        )
    if not user.can(role):
        raise ApiError(403, f"this needs the {role} role; you are {user.principal.role}")
    return dict(form.multi_items()) | {"_form": form}


async def render(
    request: Request, name: str, user: Viewer | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page, rendered in a worker thread (a 1,000-row page must not stall the event
    loop that streams other users' events), with the uncertain-outcome alerts."""
    alerts: list[Any] = []
    if user is not None:
        state = app_state(request)
        alerts = await asyncio.to_thread(
            fleet_ops.uncertain_operations, state.db, user.principal.tenant_id, 5
        )
    values = {"request": request, "user": user, "alerts": alerts, "csrf_field": CSRF_FIELD}
    template = templates.get_template(name)
    html = await asyncio.to_thread(template.render, {**values, **context})
    return HTMLResponse(html, status_code=status)


def render_error(request: Request, status: int, message: str, hint: str | None) -> Response:
    """The HTML face of an error on a UI path (401 goes to the login page)."""
    if status == 401:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return templates.TemplateResponse(
        request,
        "error.html",
        {"user": None, "alerts": [], "status": status, "message": message, "hint": hint},
        status_code=status,
    )


def login_redirect(request: Request, _exc: Exception) -> Response:
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
