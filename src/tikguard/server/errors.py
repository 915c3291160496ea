"""Every error the API returns is JSON: ``{"error": code, "message": ..., "hint": ...}``.

Every 4xx carries a ``hint`` (what to do next): the raiser's own when it knows better
(a store error's ``hint``, an :class:`ApiError`'s), else the status's default below. A
422 from request validation also lists each bad field in ``details`` (``[{"field",
"problem"}]``); a 502 names the router's failure in ``reason``. Clients parse
``error`` (a stable code) and may show ``message`` and ``hint`` as they are.

Expected failures map to the status that says what to do: 400/422 bad input, 401 no or
bad credentials, 403 the role does not allow it, 404 not in your tenant (whether it
exists elsewhere is never revealed), 409 conflicts, 413 too large, 502 the router did
not cooperate. Anything else is a 500 with a generic message (details go to the log,
never to the client).
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tikguard.device.errors import DeviceError
from tikguard.logs import get_logger
from tikguard.ops.accounts import AuthError
from tikguard.server.limits import BodyTooLarge
from tikguard.store.errors import AlreadyExists, InvalidInput, NotFound, StateError, StoreError

log = get_logger(__name__)

_CODES = MappingProxyType(
    {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        406: "not_acceptable",
        409: "conflict",
        413: "too_large",
        415: "unsupported_media_type",
        422: "invalid",
        429: "too_many_requests",
        500: "internal",
        502: "device_error",
        503: "unavailable",
    }
)


#: Where the Oxidized-compatible endpoints live. Their consumers (LibreNMS) show a body
#: as configuration text or ``json_decode`` it, so errors there are plain text: an
#: error must not decode into something that looks like a node.
OXIDIZED_PREFIX = "/oxidized"


def text_error(
    status: int, message: str, hint: str | None, headers: dict[str, str] | None
) -> Response:
    """An error as ``text/plain``: the message, then the hint on its own line."""
    hint = hint or DEFAULT_HINTS.get(status)
    body = f"{message}\n" + (f"hint: {hint}\n" if hint else "")
    return PlainTextResponse(body, status_code=status, headers=headers)


#: The hint of a 4xx whose raiser gave none: what a client can do about that status.
DEFAULT_HINTS = MappingProxyType(
    {
        400: "check the request against the API documentation at /api/v1/docs",
        401: "send 'Authorization: Bearer <token>' (create one with `tikguard token create`)",
        403: "ask an admin of your tenant for a role that allows it",
        404: "check the id or name: GET /api/v1/devices and /api/v1/operations list yours",
        405: "see /api/v1/docs for the methods this path takes",
        406: "ask for a media type this endpoint serves (see /api/v1/docs)",
        409: "read the current state again (GET), then retry if it still applies",
        413: "send a smaller request body",
        415: "send the body as application/json",
        422: "correct the value the message names, then send the request again",
        429: "wait a little and try again",
    }
)


class ApiError(Exception):
    """Raise from a route to answer with ``status`` and a clear message."""

    def __init__(
        self,
        status: int,
        message: str,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.hint = hint
        self.headers = headers
        super().__init__(message)


def error_body(status: int, message: str, hint: str | None = None, **extra: Any) -> dict[str, Any]:
    """The JSON of an error: a 4xx always has a ``hint`` (its raiser's, else the
    status's default)."""
    body: dict[str, Any] = {"error": _CODES.get(status, "error"), "message": message}
    hint = hint or DEFAULT_HINTS.get(status) or ("see /api/v1/docs" if status < 500 else None)
    if hint:
        body["hint"] = hint
    body.update(extra)
    return body


def error_response(
    status: int,
    message: str,
    hint: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        error_body(status, message, hint, **extra), status_code=status, headers=headers
    )


def _validation_message(errors: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    details: list[dict[str, Any]] = []
    for e in errors[:20]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        details.append({"field": loc, "problem": str(e.get("msg", "invalid"))})
    first = details[0] if details else {"field": "", "problem": "invalid request"}
    where = f"{first['field']}: " if first["field"] else ""
    return f"invalid request: {where}{first['problem']}", details


#: Renders errors of browser pages (set by the web UI); API paths always get JSON.
HtmlRenderer = Callable[[Request, int, str, "str | None"], Response]


def install(app: FastAPI, html: HtmlRenderer | None = None) -> None:
    """Register the error handlers on ``app`` (JSON; HTML pages for the UI's paths)."""

    def respond(
        request: Request,
        status: int,
        message: str,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> Response:
        if request.url.path.startswith(OXIDIZED_PREFIX + "/"):
            return text_error(status, message, hint, headers)
        if html is not None and not request.url.path.startswith("/api/"):
            return html(request, status, message, hint)
        return error_response(status, message, hint, headers, **extra)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Response:
        return respond(request, exc.status, exc.message, exc.hint, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        message, details = _validation_message(list(exc.errors()))
        hint = "correct each field named in `details` (see /api/v1/docs for the schema)"
        return respond(request, 422, message, hint, details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return respond(request, exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(BodyTooLarge)
    async def _large(request: Request, _exc: BodyTooLarge) -> Response:
        return respond(request, 413, "request body is too large", "send a smaller file")

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> Response:
        return respond(request, 401, str(exc), headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(NotFound)
    async def _nf(request: Request, exc: NotFound) -> Response:
        return respond(request, 404, str(exc), exc.hint)

    @app.exception_handler(AlreadyExists)
    async def _dup(request: Request, exc: AlreadyExists) -> Response:
        return respond(request, 409, str(exc), exc.hint)

    @app.exception_handler(StateError)
    async def _state(request: Request, exc: StateError) -> Response:
        return respond(request, 409, str(exc), exc.hint)

    @app.exception_handler(InvalidInput)
    async def _bad(request: Request, exc: InvalidInput) -> Response:
        return respond(request, 422, str(exc), exc.hint)

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> Response:
        log.error("store error: %s", exc)
        return respond(request, 503, "the store refused the request; see the server log")

    @app.exception_handler(DeviceError)
    async def _device(request: Request, exc: DeviceError) -> Response:
        if exc.first_contact:
            log.info("first contact with %s failed: %s", exc.device, exc.message)
        reason, message, hint = exc.for_tenant()
        return respond(request, 502, message, hint, reason=reason)

    @app.exception_handler(Exception)
    async def _any(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        return respond(request, 500, "internal error; see the server log")
