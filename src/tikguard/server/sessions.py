"""UI login sessions: a signed cookie, and CSRF tokens bound to it.

The cookie holds the user id, an expiry and the random id of a server-side session
(a ``login_sessions`` row, see :func:`tikguard.ops.accounts.open_session`), signed with
HMAC-SHA256 under a secret kept in the data directory (created on first use, mode
0600). A cookie is honoured only while its row exists: logout, a new password and
removing the user delete rows, so a copied cookie stops working at once. It is
HttpOnly and SameSite=Lax (Secure when served over TLS). Every form post carries a
CSRF token derived from the session id, so another site cannot make a logged-in
browser post a push: it can neither read the cookie nor compute the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

COOKIE = "tikguard_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def load_secret(data_dir: Path) -> bytes:
    """The signing secret of this data directory (created once, never printed)."""
    path = data_dir / "session.key"
    try:
        raw = path.read_bytes().strip()
        if len(raw) >= 32:
            return raw
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    return secret


@dataclass(frozen=True)
class Session:
    user_id: int
    expires: float
    nonce: str


class SessionSigner:
    def __init__(self, secret: bytes, lifetime_seconds: float) -> None:
        self._secret = secret
        self.lifetime = lifetime_seconds

    def _mac(self, payload: bytes) -> str:
        digest = hmac.new(self._secret, payload, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, user_id: int, session_id: str | None = None) -> str:
        """A cookie for the session ``session_id`` (default: a random id, no row)."""
        nonce = session_id or secrets.token_hex(12)
        body = {"u": user_id, "e": int(time.time() + self.lifetime), "n": nonce}
        payload = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
        return f"{payload}.{self._mac(payload.encode())}"

    def read(self, cookie: str | None) -> Session | None:
        """The session of a cookie, or None when missing, forged or expired."""
        if not cookie or len(cookie) > 512 or "." not in cookie:
            return None
        payload, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(payload.encode())):
            return None
        try:
            body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            session = Session(int(body["u"]), float(body["e"]), str(body["n"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires < time.time():
            return None
        return session

    def csrf_token(self, session: Session) -> str:
        return self._mac(f"csrf|{session.nonce}|{session.user_id}".encode())

    def check_csrf(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(session))
