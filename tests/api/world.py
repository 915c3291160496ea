"""Two tenants with users, tokens of every role, a device with versions, an operation
with events and audit entries: the data every API test and the isolation matrix use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tikguard.ops import accounts
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store import operations as store_ops
from tikguard.store import versions as store_versions
from tikguard.store.audit import audit
from tikguard.store.db import Database
from tikguard.store.reach import set_reach
from tikguard.store.tenants import create_tenant

CONFIG_V1 = """/system identity
set name={name}
/ip address
add address=192.0.2.1/24 interface=ether1
"""
CONFIG_V2 = CONFIG_V1 + "add address=198.51.100.1/24 interface=ether2\n"
PASSWORD = "correct-horse-battery"


def api_settings(data_dir: Path, **overrides: Any) -> Settings:
    base = Settings(
        data_dir=data_dir,
        time_scale=50.0,
        engine_polling_interval=0.05,
        # network limits in real time (30 s, 60 s) on a loaded machine, whatever the scale
        connect_timeout=30 * 50.0,
        command_timeout=30 * 50.0,
        backup_timeout=60 * 50.0,
        push_window=120.0,
        push_settle=5.0,
        push_boot_wait=120.0,
        max_upload_bytes=64 * 1024,
    )
    return base.with_(**overrides)


@dataclass
class TenantWorld:
    name: str
    id: int
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    device_id: int = 0
    device_name: str = ""
    op_id: str = ""
    token_id: int = 0
    #: The viewer's user id (a user another tenant's admin must not reach).
    user_id: int = 0

    def auth(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def build_tenant(db: Database, name: str) -> TenantWorld:
    """A tenant with users, tokens, a device, versions and an operation.

    Its admins may add devices anywhere, also where another tenant has one (the worlds
    share the simulator's loopback routers); tests/api/test_security.py narrows that.
    """
    with db.transaction() as s:
        tenant = create_tenant(s, name)
        set_reach(s, tenant.id, networks="any", share_hosts=True)
        world = TenantWorld(name, tenant.id)
        for role in ("viewer", "operator", "admin"):
            username = f"{name}-{role}"
            user = accounts.create_user(s, tenant.id, username, PASSWORD, role, actor="test")
            if role == "viewer":
                world.user_id = user.id
            world.users[role] = username
            new = accounts.create_token(s, tenant.id, f"{name}-{role}", role, actor="test")
            world.tokens[role] = new.token
            world.token_id = new.id
        device = store_devices.add_device(
            s,
            tenant.id,
            name=f"{name}-r1",
            host="127.0.0.1",
            port=9,
            username="admin",
            password="router-secret",
            tags=["core"],
            site=f"{name}-site",
        )
        world.device_id, world.device_name = device.id, device.name
        for text in (CONFIG_V1, CONFIG_V2):
            store_versions.record_backup(
                s,
                tenant.id,
                device.id,
                normalised_redacted_text=text.format(name=name),
                secrets={},
                ros_version="7.16",
                trigger="manual",
            )
        op, _ = store_ops.create_operation(
            s, tenant.id, kind="push", device_id=device.id, parameters={"confirm": "manual"}
        )
        store_ops.append_event(s, tenant.id, op.id, stage="plan", message="planned")
        store_ops.append_event(s, tenant.id, op.id, stage="preflight", message="ok")
        world.op_id = op.id
        audit(s, tenant.id, actor="test", action="device.add", target=device.name)
    return world
