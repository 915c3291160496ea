"""One try to hand a message to a receiver: an HTTP POST or an SMTP conversation.

Each returns a :class:`Sent` (never raises for the receiver's failures) saying whether
it worked, what the receiver answered, and whether another try could help: a 5xx,
408/429, a refused connection or an SMTP 4xx may pass; another 4xx or an SMTP 5xx
will not, so the delivery stops instead of retrying for an hour.

Webhooks are signed: ``X-Tikguard-Signature: sha256=<hex>`` is the HMAC-SHA256, with
the channel's secret, of ``<X-Tikguard-Timestamp>.<body>`` (the timestamp lets a
receiver refuse replays). Redirects are not followed (a signed body goes where it was
configured to, nowhere else).
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage

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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def post_webhook(
    url: str,
    body: bytes,
    *,
    secret: str,
    headers: dict[str, str],
    timeout: float,
    ca_pem: str | None = None,
) -> Sent:
    """POST ``body`` (JSON) to ``url``, signed with ``secret``."""
    stamp = str(int(time.time()))
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 (http/https checked at add)
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", "tikguard")
    request.add_header(TIMESTAMP_HEADER, stamp)
    if secret:
        request.add_header(SIGNATURE_HEADER, sign(secret, stamp, body))
    for name, value in headers.items():
        request.add_header(name, value)
    opener = urllib.request.build_opener(
        _NoRedirect, urllib.request.HTTPSHandler(context=_tls(ca_pem))
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return Sent(True, f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        code = exc.code
        return Sent(False, f"HTTP {code} {exc.reason}", retry=code >= 500 or code in (408, 429))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return Sent(False, f"no answer: {reason}")


def send_mail(
    mail: EmailMessage,
    *,
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
        smtp: smtplib.SMTP
        if security == "tls":
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
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
