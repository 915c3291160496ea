"""Commands that are more than menu data: backups, reboot, reset, files, import, status.

Each handler takes the parsed :class:`~tikguard.sim.context.Invocation` and the
session, and returns the text RouterOS prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from tikguard.routeros import schema
from tikguard.routeros.values import parse_date, parse_duration
from tikguard.sim import importer
from tikguard.sim.backupfile import BackupError
from tikguard.sim.configdb import ConfigDB, Item, MenuState
from tikguard.sim.console import require
from tikguard.sim.context import Handler, Invocation, RouterHost, Session
from tikguard.sim.defaults import defconf_script
from tikguard.sim.errors import NOT_ENOUGH_PERMISSIONS, ConsoleError, syntax_error
from tikguard.sim.files import FileStoreError
from tikguard.sim.generic import print_menu, singleton_lines

#: What RouterOS prints (unconfirmed wording is documented in docs/simulator.md).
BACKUP_SAVED = "Configuration backup saved"
BACKUP_FULL = "failure: not enough disk space"


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f}MiB"
    if n >= 1024:
        return f"{n / 1024:.1f}KiB"
    return f"{n}B"


def _uptime(seconds: float) -> str:
    s = int(seconds)
    w, s = divmod(s, 604800)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    out = "".join(f"{v}{u}" for v, u in ((w, "w"), (d, "d"), (h, "h"), (m, "m")) if v)
    return out + f"{s}s" if s or not out else out


def duration_text(seconds: float) -> str:
    """A duration as RouterOS prints it: ``2m``, ``1d1m1s``, ``1w3d``, ``0s``."""
    total = int(seconds)
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def scheduler_values(inv: Invocation) -> None:
    """RouterOS stores ``interval`` as a time and prints it canonically (120s -> 2m)."""
    text = inv.values.get("interval")
    if not text:
        return
    try:
        seconds = float(text) if text.isdigit() else parse_duration(text)
    except ValueError:
        raise ConsoleError("invalid time value for argument interval") from None
    inv.values["interval"] = duration_text(seconds)


def scheduler_add_defaults(router: RouterHost, inv: Invocation) -> None:
    """RouterOS fills in when an interval-only item starts and the default policy."""
    if not router.scheduler_allowed():
        raise ConsoleError("failure: scheduler is not allowed by device-mode")
    values = inv.values
    if "start-time" not in values and values.get("interval"):
        now = router.clock.now()
        values["start-date"] = router.format_date(now)
        values["start-time"] = now.strftime("%H:%M:%S")
    values.setdefault("policy", "ftp,reboot,read,write,policy,test,password,sniff,sensitive,romon")


def script_add_defaults(router: RouterHost, inv: Invocation, session: Session) -> None:
    """RouterOS records who added a script and gives it the default policy."""
    if router.profile.script_owner:
        inv.values.setdefault("owner", session.user)
    inv.values.setdefault(
        "policy", "ftp,reboot,read,write,policy,test,password,sniff,sensitive,romon"
    )


#: ``/user`` and ``/user group`` verbs that write (checked by :func:`user_write`).
_USER_VERBS = ("add", "set", "remove", "enable", "disable")


def needs(router: RouterHost, session: Session, key: str) -> None:
    wanted = router.required_policies.get(key, frozenset())
    if "full" in session.policies:
        return
    if not wanted <= session.policies:
        raise ConsoleError(NOT_ENOUGH_PERMISSIONS)


async def backup_save(router: RouterHost, inv: Invocation, session: Session) -> str:
    if router.dry_run:
        return ""  # checked, not done
    needs(router, session, "backup-save")
    name = inv.value("name") or f"{router.identity}-{router.clock.now():%Y%m%d-%H%M}"
    if not name.endswith(".backup"):
        name += ".backup"
    password = inv.value("password")
    if inv.flag("dont-encrypt"):
        password = None
    if router.faults.slow_flash_seconds:
        await router.delay(router.faults.slow_flash_seconds)
    data = router.backup_bytes(password)
    try:
        router.files.write(name, data)
    except FileStoreError:
        return BACKUP_FULL
    return BACKUP_SAVED


async def backup_load(router: RouterHost, inv: Invocation, session: Session) -> str:
    if router.dry_run:
        return ""  # checked, not done
    needs(router, session, "backup-load")
    name = inv.value("name") or (inv.words[0].value if inv.words else "") or ""
    candidates = [name, name + ".backup"]
    data = None
    for candidate in candidates:
        if router.files.exists(candidate):
            data = router.files.read(candidate)
            break
    if data is None:
        return "failure: no such file"
    try:
        router.restore_backup(data, inv.value("password"))
    except BackupError as exc:
        return str(exc)
    router.log(f"configuration restored from {name}", topic="system")
    router.reboot_soon()
    return "Restore and reboot? [y/N]: \nconfiguration restored, rebooting..."


async def reboot(router: RouterHost, inv: Invocation, session: Session) -> str:
    needs(router, session, "reboot")
    router.reboot_soon()
    return "Reboot, yes? [y/N]: \nsystem will reboot shortly"


async def shutdown(router: RouterHost, inv: Invocation, session: Session) -> str:
    if router.dry_run:
        return ""  # checked, not done
    needs(router, session, "reboot")
    await router.power_loss()
    return ""


async def reset_configuration(router: RouterHost, inv: Invocation, session: Session) -> str:
    if router.dry_run:
        return ""  # checked, not done
    needs(router, session, "reboot")
    require(session, "write")
    if not inv.flag("skip-backup") and inv.value("skip-backup") != "yes":
        folder = "flash/" if router.model.has_flash else ""
        router.files.write(f"{folder}auto-before-reset.backup", router.backup_bytes(None))
    script: str | None = None
    after = inv.value("run-after-reset")
    if after:
        try:
            script = router.files.read(after).decode("utf-8", "surrogateescape")
        except FileStoreError:
            return "failure: no such file"
    no_defaults = inv.value("no-defaults", "no") == "yes"
    router.reset_configuration(keep_users=inv.value("keep-users") == "yes", no_defaults=no_defaults)
    if script is None and not no_defaults:
        script = defconf_script(router.model)  # run-after-reset replaces the defconf
    if script is not None:
        router.run_after_boot(script)
    router.reboot_soon()
    return "Dangerous! Reset anyway? [y/N]: \nsystem configuration will be reset"


async def resource_print(router: RouterHost, inv: Invocation, session: Session) -> str:
    m = router.model
    free = router.files.free_space()
    values = {
        "uptime": _uptime(router.uptime()),
        "version": f"{router.profile.version} (stable)",
        "build-time": router.format_datetime(router.clock.now().replace(hour=9, minute=0)),
        "factory-software": router.profile.version,
        "free-memory": _size(m.memory_bytes * 3 // 4),
        "total-memory": _size(m.memory_bytes),
        "cpu": m.cpu,
        "cpu-count": str(m.cpu_count),
        "cpu-frequency": "2400MHz" if not m.routerboard else "720MHz",
        "cpu-load": "1%",
        "free-hdd-space": _size(free),
        "total-hdd-space": _size(m.storage_bytes),
        "architecture-name": m.architecture,
        "board-name": m.board_name,
        "platform": "MikroTik",
    }
    return singleton_lines(values)


async def clock_print(router: RouterHost, inv: Invocation, session: Session) -> str:
    now = router.clock.now()
    state = router.db.read("/system clock")
    zone = (state.singleton_get("time-zone-name") if state else None) or "manual"
    return singleton_lines(
        {
            "time": now.strftime("%H:%M:%S"),
            "date": router.format_date(now),
            "time-zone-autodetect": "no",
            "time-zone-name": zone,
            "gmt-offset": "+00:00",
            "dst-active": "no",
        }
    )


async def ntp_client_print(router: RouterHost, inv: Invocation, session: Session) -> str:
    """The NTP client's settings with their defaults, and on 7.x its ``status``."""
    state = router.db.read("/system ntp client")
    values = {"enabled": "no", **(state.singleton_effective() if state else {})}
    if router.profile.major >= 7:
        values["status"] = router.ntp_status()
    return singleton_lines(values)


async def cloud_print(router: RouterHost, inv: Invocation, session: Session) -> str:
    """``/ip cloud``: ``update-time`` (default yes) and a status; the simulated cloud
    answers only when the ``cloud_reachable`` setting says so."""
    state = router.db.read("/ip cloud")
    values = {"update-time": "yes", **(state.singleton_effective() if state else {})}
    reachable = bool(router.settings.get("cloud_reachable", False))
    values["status"] = "updated" if reachable else '"Error: request timed out"'
    return singleton_lines(values)


async def clock_set(router: RouterHost, inv: Invocation, session: Session) -> str:
    require(session, "write")

    now = router.clock.now()
    date_text = inv.value("date")
    time_text = inv.value("time")
    new = now
    if date_text:
        d = parse_date(date_text)
        new = new.replace(year=d.year, month=d.month, day=d.day)
    if time_text:
        h, mi, s = (int(x) for x in time_text.split(":"))
        new = new.replace(hour=h, minute=mi, second=s)
    router.clock.set_time(new)
    rest = {k: v for k, v in inv.values.items() if k not in ("date", "time")}
    if rest:
        router.db.write("/system clock").values.update(rest)
        router.config_changed("/system clock set", session)
    return ""


async def routerboard_print(router: RouterHost, inv: Invocation, session: Session) -> str:
    m = router.model
    if not m.routerboard:
        return singleton_lines({"routerboard": "no"})
    return singleton_lines(
        {
            "routerboard": "yes",
            "board-name": m.board_name,
            "model": (m.export_model or m.name).replace("RouterBOARD ", ""),
            "serial-number": router.ids.serial_number,
            "firmware-type": "qca9550L",
            "factory-firmware": router.profile.version,
            "current-firmware": router.profile.version,
            "upgrade-firmware": router.profile.version,
        }
    )


async def device_mode_print(router: RouterHost, inv: Invocation, session: Session) -> str:
    if not router.profile.has_device_mode:
        raise _bad(inv, "device-mode")
    return singleton_lines(router.device_mode_settings())


async def device_mode_update(router: RouterHost, inv: Invocation, session: Session) -> str:
    if not router.profile.has_device_mode:
        raise _bad(inv, "device-mode")
    # A real router waits for a button press or a power cycle; the simulator
    # applies the change at once (tests set device_mode directly too).
    router.device_mode.update({k: v or "" for k, v in inv.values.items()})
    router.scheduler.resync()
    return ""


async def history_print(router: RouterHost, inv: Invocation, session: Session) -> str:
    lines = ["Flags: U - undoable, R - redoable, F - floating-undo"]
    for n, entry in enumerate(reversed(router.history)):
        lines.append(
            f"{n:>2} U  action={entry.action!r} by={entry.by} policy={entry.policy}"
            f" time={router.format_datetime(entry.when)}".replace("'", '"')
        )
    return "\n".join(lines)


async def file_print(router: RouterHost, inv: Invocation, session: Session) -> str:
    require(session, "read")

    state = MenuState()
    now = router.clock.now()
    for folder in router.files.folders():
        state.items.append(
            Item(
                state.new_id(),
                base={
                    "name": folder,
                    "type": "directory",
                    "creation-time": router.format_datetime(now),
                },
            )
        )
    for f in router.files.list():
        state.items.append(
            Item(
                state.new_id(),
                base={
                    "name": f.name,
                    "type": f.kind,
                    "size": str(f.size),
                    "creation-time": router.format_datetime(f.created),
                },
            )
        )

    db = ConfigDB({"/file": state})
    return print_menu(db, inv, session)


async def file_remove(router: RouterHost, inv: Invocation, session: Session) -> str:
    require(session, "write")
    names = [r for ref in inv.selection.refs for r in ref.split(",")]
    if inv.selection.predicate is not None:
        for f in router.files.list():
            if inv.selection.predicate(Item(0, base={"name": f.name, "type": f.kind})):
                names.append(f.name)
    for name in names:
        try:
            router.files.remove(name)
        except FileStoreError:
            return "no such item"
    return ""


async def interface_print(router: RouterHost, inv: Invocation, session: Session) -> str:
    """``/interface print``: every interface of every kind, with its type."""
    require(session, "read")
    state = MenuState()
    for path in schema.INTERFACE_MENUS:  # the schema's order: stable output
        menu = router.db.read(path)
        for item in menu.items if menu is not None else []:
            values = {"name": item.get("name") or "", "type": path.rsplit(" ", 1)[-1]}
            for key in ("mtu", "disabled", "comment"):
                value = item.get(key)
                if value is not None:
                    values[key] = value
            state.items.append(Item(state.new_id(), base=values))
    return print_menu(ConfigDB({"/interface": state}), inv, session)


async def package_print(router: RouterHost, inv: Invocation, session: Session) -> str:
    v = router.profile.version
    if router.profile.is_v7:
        return f"Columns: NAME, VERSION\n # NAME      VERSION\n 0 routeros  {v}"
    name = f"routeros-{router.model.architecture}"
    return f"Flags: X - disabled\n #   NAME      VERSION\n 0   {name} {v}"


async def package_update_print(router: RouterHost, inv: Invocation, session: Session) -> str:
    v = router.profile.version
    return singleton_lines({"channel": "stable", "installed-version": v})


async def log_print(router: RouterHost, inv: Invocation, session: Session) -> str:
    return "\n".join(
        f"{when:%H:%M:%S} {topic} {message}" for when, topic, message in router.log_lines
    )


async def script_run(router: RouterHost, inv: Invocation, session: Session) -> str:
    require(session, "read")
    ref = inv.selection.refs[0] if inv.selection.refs else (inv.words[0].value if inv.words else "")
    state = router.db.read("/system script")
    for item in state.items if state is not None else []:
        if item.get("name") == ref:
            policy = item.get("policy") or ""
            return await router.run_script(
                item.get("source") or "", policy=policy, origin=f"script {ref}"
            )
    return "no such item"


async def user_write(router: RouterHost, inv: Invocation, session: Session) -> str:
    needs(router, session, "user-admin")
    return await router.generic(inv, session)


async def do_import(router: RouterHost, inv: Invocation, session: Session) -> str:
    require(session, "write")
    return await importer.run_import(router, inv, session)


#: Special commands by (menu path, verb); shared by every router's console.
HANDLERS: Final[Mapping[tuple[str, str], Handler]] = MappingProxyType(
    {
        ("/system backup", "save"): backup_save,
        ("/system backup", "load"): backup_load,
        ("/system", "reboot"): reboot,
        ("/system", "shutdown"): shutdown,
        ("/system", "reset-configuration"): reset_configuration,
        ("/system resource", "print"): resource_print,
        ("/system clock", "print"): clock_print,
        ("/system clock", "set"): clock_set,
        ("/system ntp client", "print"): ntp_client_print,
        ("/ip cloud", "print"): cloud_print,
        ("/system routerboard", "print"): routerboard_print,
        ("/system device-mode", "print"): device_mode_print,
        ("/system device-mode", "update"): device_mode_update,
        ("/system history", "print"): history_print,
        ("/system script", "run"): script_run,
        ("/file", "print"): file_print,
        ("/file", "remove"): file_remove,
        ("/log", "print"): log_print,
        ("/interface", "print"): interface_print,
        ("/system package", "print"): package_print,
        ("/system package update", "print"): package_update_print,
        ("", "import"): do_import,
        **{(menu, verb): user_write for menu in ("/user", "/user group") for verb in _USER_VERBS},
    }
)


def _bad(inv: Invocation, word: str) -> ConsoleError:

    return syntax_error(f"bad command name {word}", inv.verb_column)
