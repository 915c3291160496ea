"""One try to hand a message to a receiver: an HTTP POST or an SMTP conversation.

Each returns a :class:`Sent` (never raises for the receiver's failures) saying whether
it worked, what the receiver answered, and whether another try could help: a 5xx,
408/429, a refused connection or an SMTP 4xx may pass; another 4xx or an SMTP 5xx
will not, so the delivery stops instead of retrying for an hour.

Webhooks are signed: ``X-Tikguard-Signature: sha256=<hex>`` is the HMAC-SHA256, with
the channel's secret, of ``<X-Tikguard-Timestamp>.<body>`` (the timestamp lets a
receiver refuse replays). Both go through ``ops/outbound.py``: only to public
addresses (or networks the operator allows), never following a redirect (a signed
body goes where it was configured to, nowhere else), within the timeout as a whole.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage

from tikguard.ops import outbound
from tikguard.settings import Settings

SIGNATURE_HEADER = "X-Tikguard-Signature"
TIMESTAMP_HEADER = "X-Tikguard-Timestamp"
#: Stable across the retries of one delivery: a receiver can drop duplicates.
DELIVERY_HEADER = "X-Tikguard-Delivery"
EVENT_HEADER = "X-Tikguard-Event"


@dataclass(frozen=True)
class Sent:
    ok: bool
    status: str
    #: Whether a later try may succeed (False: stop retrying).
    retry: bool = True


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _tls(ca_pem: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_pem:
        context.load_verify_locations(cadata=ca_pem)
    return context


def post_webhook(
    url: str,
    body: bytes,
    *,
    settings: Settings,
    secret: str,
    headers: dict[str, str],
    timeout: float,
    ca_pem: str | None = None,
) -> Sent:
    """POST ``body`` (JSON) to ``url``, signed with ``secret``."""
    stamp = str(int(time.time()))
    sent = {
        "Content-Type": "application/json",
        "User-Agent": "tikguard",
        TIMESTAMP_HEADER: stamp,
        **({SIGNATURE_HEADER: sign(secret, stamp, body)} if secret else {}),
        **headers,
    }
    try:
        answer = outbound.http_request(
            url,
            settings=settings,
            method="POST",
            headers=sent,
            body=body,
            timeout=timeout,
            context=_tls(ca_pem),
        )
    except outbound.Refused as exc:
        return Sent(False, str(exc), retry=False)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return Sent(False, f"no answer: {exc or type(exc).__name__}")
    code = answer.status
    if code < 300:
        return Sent(True, f"HTTP {code}")
    return Sent(False, f"HTTP {code} {answer.reason}", retry=code >= 500 or code in (408, 429))


def send_mail(
    mail: EmailMessage,
    *,
    settings: Settings,
    host: str,
    port: int,
    security: str,
    username: str,
    password: str,
    timeout: float,
    ca_pem: str | None = None,
) -> Sent:
    """Send ``mail`` over SMTP: ``security`` is ``starttls`` (refused if the server does
    not offer it), ``tls`` (implicit, port 465) or ``none`` (no login then)."""
    context = _tls(ca_pem)
    try:
        with outbound.smtp_client(
            host,
            port,
            settings=settings,
            implicit_tls=security == "tls",
            context=context,
            timeout=timeout,
        ) as smtp:
            smtp.ehlo()
            if security == "starttls":
                if not smtp.has_extn("starttls"):
                    return Sent(False, "the server does not offer STARTTLS", retry=False)
                smtp.starttls(context=context)
                smtp.ehlo()
            if username:
                smtp.login(username, password)
            refused = smtp.send_message(mail)
            if refused:
                who = ", ".join(sorted(refused))
                return Sent(False, f"SMTP refused recipients: {who}", retry=False)
            return Sent(True, "SMTP 250 accepted")
    except outbound.Refused as exc:
        return Sent(False, str(exc), retry=False)
    except smtplib.SMTPAuthenticationError as exc:
        return Sent(False, f"SMTP {exc.smtp_code}: authentication failed", retry=False)
    except smtplib.SMTPResponseException as exc:
        return Sent(False, f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}", exc.smtp_code < 500)
    except smtplib.SMTPRecipientsRefused as exc:
        return Sent(False, f"SMTP refused recipients: {', '.join(sorted(exc.recipients))}", False)
    except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        return Sent(False, f"SMTP: {type(exc).__name__}: {exc}")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
