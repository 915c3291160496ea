"""The one settings object.

Every tunable of tikguard lives here and is read from the environment (``TIKGUARD_*``)
once. Components receive a :class:`Settings` instead of reading the environment
themselves, so tests can build one with small windows and a fast clock.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "TIKGUARD_"


def time_scale_from_env() -> float:
    """The device-time acceleration factor shared by the simulator and the controller.

    Production leaves ``TIKGUARD_TIME_SCALE`` unset (1.0). Tests and the demo set it so
    that a 120 s revert window passes in a few seconds on both sides of the wire.
    """
    raw = os.environ.get(ENV_PREFIX + "TIME_SCALE", "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"TIKGUARD_TIME_SCALE must be a positive number, got {raw!r}") from exc
    if value <= 0:
        raise ValueError(f"TIKGUARD_TIME_SCALE must be a positive number, got {raw!r}")
    return value


def _default_data_dir() -> Path:
    return Path(os.environ.get(ENV_PREFIX + "DATA_DIR", "") or Path.home() / ".tikguard")


@dataclass(frozen=True)
class Settings:
    """All of tikguard's settings. Durations are in device seconds (see ``time_scale``)."""

    data_dir: Path = field(default_factory=_default_data_dir)
    #: SQLAlchemy URL of the app database; empty means SQLite in ``data_dir``.
    #: Hidden from ``repr``: a URL may carry the database password.
    database_url: str = field(default="", repr=False)
    #: SQLAlchemy URL of the DBOS system database; empty means SQLite in ``data_dir``.
    system_database_url: str = field(default="", repr=False)
    #: Master key file (32 random bytes, base64); empty means ``data_dir/master.key``.
    master_key_file: str = ""
    #: Master key given directly (base64), overriding the file. Never logged or shown.
    master_key: str = field(default="", repr=False)
    #: Git remote URL each tenant's config mirror is pushed to after it changes;
    #: ``{tenant}`` is replaced by the tenant name. Empty: no push.
    git_remote: str = field(default="", repr=False)  # may carry a token
    #: "on": this process keeps the git mirror (data_dir/git); "off": it leaves it to
    #: another; "auto": on with the embedded default, and on PostgreSQL only in the
    #: cluster's elected writer (the live worker that has run longest).
    git_mirror: str = "auto"
    time_scale: float = 1.0

    # Device sessions
    connect_timeout: float = 15.0
    command_timeout: float = 60.0
    backup_concurrency: int = 50
    backup_timeout: float = 120.0

    # Guarded push
    push_window: float = 120.0
    push_settle: float = 10.0
    push_margin_fraction: float = 0.25
    push_margin_min: float = 15.0
    push_boot_wait: float = 180.0
    #: Pushes one worker runs at once; N workers run N times as many, spread evenly.
    #: 0: 100 on the embedded default (one worker), 20 per worker on PostgreSQL.
    push_concurrency: int = 0

    # Backup schedules
    #: Shortest time (seconds) a backup schedule may leave between two runs.
    schedule_min_interval: float = 300.0

    # Durable-workflow engine (DBOS)
    #: Seconds between the engine's queue/notification polls (tests use ~0.05).
    engine_polling_interval: float = 1.0
    #: This worker's identity: pending workflows of this id resume when it starts again.
    #: Empty: "local" on the embedded default; on PostgreSQL a generated id kept in
    #: ``data_dir/executor-id``. Two live workers never share one.
    executor_id: str = ""
    #: A worker whose heartbeat is older than this (device seconds) is dead, and one
    #: survivor takes its pending workflows over. Well inside the default window's
    #: margin (30 s of 120 s), so a taken-over push still commits in time.
    worker_lease: float = 10.0

    # API / UI
    bind_host: str = "127.0.0.1"
    bind_port: int = 8080
    max_upload_bytes: int = 1_048_576
    #: PEM certificate and key files: with both set, ``tikguard serve`` speaks HTTPS.
    tls_certfile: str = ""
    tls_keyfile: str = ""
    #: How long a UI login lasts (hours).
    session_hours: float = 12.0
    #: Addresses or networks (comma-separated, ``10.0.0.5, 192.0.2.0/24``) of reverse
    #: proxies whose ``X-Forwarded-For`` is believed. Empty: the header is ignored, the
    #: peer's address is the client's (login throttling counts per address).
    trusted_proxies: str = ""
    #: Set when a TLS-terminating proxy serves tikguard over HTTPS: cookies get
    #: ``Secure`` even though tikguard itself speaks plain HTTP behind it.
    behind_tls_proxy: bool = False
    #: How people reach this controller's UI (``https://tikguard.example.net``): the base
    #: of the links in notifications. Empty: ``http://<bind_host>:<bind_port>``.
    public_url: str = ""

    # Notifications
    #: Seconds between two looks for events worth a notification (one worker per look
    #: records each; see docs/notifications.md).
    notify_interval: float = 10.0
    #: Facts older than this (seconds) when first seen are not notified (after a long
    #: stop, a flood of stale alerts helps nobody).
    notify_lookback: float = 3600.0
    #: Tries per delivery, and the wait before the second (doubling, at most an hour).
    notify_attempts: int = 6
    notify_backoff: float = 30.0
    #: Seconds one try may take (connect, TLS, send).
    notify_timeout: float = 10.0

    # Outbound connections on a tenant's word (webhooks, SMTP, HTTP inventory sources)
    #: Networks (comma-separated CIDRs, ``127.0.0.1/32, 10.20.0.0/16``) those may reach
    #: besides the public Internet; loopback, link-local, private and reserved addresses
    #: are refused otherwise (see ``ops/outbound.py``). Routers are not bound by it.
    outbound_allow: str = ""

    # Metrics
    #: Bearer token a Prometheus scrape of ``/metrics`` on the main listener must send.
    #: Empty (and no ``metrics_listen``): ``/metrics`` answers 404.
    metrics_token: str = field(default="", repr=False)
    #: ``host:port`` of a separate listener serving only ``/metrics``, without a token
    #: (keep it on a management network).
    metrics_listen: str = ""

    def seconds(self, device_seconds: float) -> float:
        """Wall-clock seconds for a duration measured in device time."""
        return device_seconds / self.time_scale

    def app_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'tikguard.sqlite'}"

    def dbos_database_url(self) -> str:
        if self.system_database_url:
            return self.system_database_url
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'dbos.sqlite'}"

    def push_slots(self) -> int:
        """Pushes this worker runs at once (see ``push_concurrency``)."""
        if self.push_concurrency > 0:
            return self.push_concurrency
        return 20 if self.dbos_database_url().startswith("postgresql") else 100

    def base_url(self) -> str:
        """Where links in notifications point (no trailing slash)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.bind_host}:{self.bind_port}"

    def outbound_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The networks of ``outbound_allow`` (ValueError naming the variable)."""
        try:
            return [
                ipaddress.ip_network(part.strip(), strict=False)
                for part in self.outbound_allow.split(",")
                if part.strip()
            ]
        except ValueError as exc:
            raise ValueError(f"TIKGUARD_OUTBOUND_ALLOW: {exc}") from None

    def master_key_path(self) -> Path:
        return Path(self.master_key_file) if self.master_key_file else self.data_dir / "master.key"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``TIKGUARD_<FIELD>`` for every field; explicit overrides win."""
        env = os.environ if environ is None else environ
        defaults = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = ENV_PREFIX + f.name.upper()
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(name, raw, getattr(defaults, f.name))
        if "time_scale" in values and values["time_scale"] <= 0:
            raise ValueError("TIKGUARD_TIME_SCALE must be a positive number")
        values.update(overrides)
        settings = cls(**values)
        settings.outbound_networks()  # a bad network stops the start, not a delivery
        return settings


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _convert(name: str, raw: str, default: object) -> object:
    """Read an environment value as the type of the field's default."""
    try:
        if isinstance(default, bool):
            word = raw.strip().lower()
            if word not in _TRUE | _FALSE:
                raise ValueError(raw)
            return word in _TRUE
        if isinstance(default, Path):
            return Path(raw)
        if isinstance(default, int | float):
            return type(default)(raw)
        return raw
    except ValueError as exc:
        raise ValueError(f"{name}: cannot read {raw!r} as {type(default).__name__}") from exc
