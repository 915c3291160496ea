"""tikguard's loggers: every record is redacted before any handler sees it.

A device error or a failed store write can quote a RouterOS line with a password in
it; log lines and tracebacks go through the same redaction as stored configs
(:func:`tikguard.routeros.secrets.redact_text`).
"""

from __future__ import annotations

import logging
import traceback

from tikguard.routeros.secrets import redact_text


class RedactSecrets(logging.Filter):
    """Render the record's message (and traceback) once, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = redact_text(text)
            record.exc_info = None
        return True


_FILTER = RedactSecrets()


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with the redacting filter (the one way to log)."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger
