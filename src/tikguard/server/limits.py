"""Request body size limit (``Settings.max_upload_bytes``), before any parsing.

A pure ASGI middleware: a declared ``Content-Length`` over the limit is refused at
once; a body without a length (chunked) is read here up to the limit and refused as
soon as it passes it, else handed on. Either way the client gets a 413 JSON error,
never a half-read body in a route.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """Raised by code that reads a body past the limit itself (answered with 413)."""


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": "too_large",
                "message": f"request body is larger than {self.max_bytes} bytes",
                "hint": "send a smaller file, or raise TIKGUARD_MAX_UPLOAD_BYTES",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared_length: int | None = None
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared_length = int(value)
                except ValueError:
                    declared_length = None
                    continue
                if declared_length > self.max_bytes:
                    await self._refuse(send)
                    return
        if declared_length is not None:
            await self.app(scope, receive, send)  # the server enforces Content-Length
            return
        # A body without a length (chunked): read it here, up to the limit, then replay.
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)
