"""The revert point's password: one per push, kept by the controller only.

The ``.backup`` a push leaves on the router while it is armed holds the whole
configuration, secrets included. It is encrypted with a random password made at
submit time, carried in the push request encrypted with the tenant's key (like the
script), and put on the router only inside the revert commands. It never appears in a
step result, an event or a log (commands that carry it mask it in error texts).
"""

from __future__ import annotations

import secrets
from typing import Final

from tikguard.ops.push.context import decrypt_script, encrypt_script
from tikguard.ops.push.results import PushSpec
from tikguard.store.db import Database

PURPOSE: Final = "revert-point"


def new_revert_key(db: Database, tenant_id: int, op_id: str) -> str:
    """A fresh password for one push's revert point, encrypted for the request."""
    password = secrets.token_urlsafe(18)
    return encrypt_script(db, tenant_id, op_id, password, purpose=PURPOSE)


def revert_password(spec: PushSpec, db: Database | None = None) -> str | None:
    """The push's revert-point password (None: a request made without one, whose revert
    point is not encrypted)."""
    if not spec.revert_key_enc:
        return None
    return decrypt_script(spec, spec.revert_key_enc, purpose=PURPOSE, db=db)
