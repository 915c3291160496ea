"""Security walls of the API that need no router: input bounds, throttling, tenants.

Each test here was written against a finding of an adversarial review and failed
before the fix (see docs/security.md for the threat model and the list of walls).
"""

from __future__ import annotations

import httpx
import pytest
from tests.api.world import TenantWorld


@pytest.mark.parametrize(
    ("pattern", "said"),
    [
        ("(", "missing )"),
        ("[a-", "is not a valid regular expression"),
        ("x" * 513, "limited to 512 characters"),
    ],
)
async def test_a_bad_health_check_pattern_is_refused_at_submit(
    client: httpx.AsyncClient, alpha: TenantWorld, pattern: str, said: str
) -> None:
    body = {
        "devices": [alpha.device_id],
        "script": "/ip address\nadd address=10.0.0.1/24 interface=ether1\n",
        "checks": [["/system resource print", pattern]],
    }
    r = await client.post("/api/v1/push", json=body, headers=alpha.auth("operator"))
    assert r.status_code == 422, r.text
    assert said in r.text
