"""The router's brain in-process: console, config engine, export, import, backups,
scheduler timing, reboots, reachability and faults, all on a manual device clock."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tikguard.routeros.parse import parse
from tikguard.sim.clock import SimClock
from tikguard.sim.faults import DROP_CONNECTIONS
from tikguard.sim.router import SimRouter


def make(version: str = "7.16", model: str = "CHR", **kw: object) -> SimRouter:
    return SimRouter(name="gw1", version=version, model=model, clock=SimClock(manual=True), **kw)  # type: ignore[arg-type]


async def run(r: SimRouter, text: str, user: str = "admin") -> str:
    return await r.execute(text, user=user)


# -- console and engine -----------------------------------------------------------------
async def test_add_print_find_and_both_path_spellings() -> None:
    r = make()
    assert await run(r, "/ip address add address=10.0.0.1/24 interface=ether1") == ""
    assert await run(r, '/ip/address/add address=10.0.1.1/24 interface=ether2 comment="a b"') == ""
    out = await run(r, "/ip address print terse where interface=ether2")
    assert out.startswith(" 1 ") and 'comment="a b"' in out
    assert await run(r, ':put [/ip address find where interface~"ether"]') == "*1;*2\n"
    assert await run(r, ":put [/ip address find where interface!=ether1]") == "*2\n"


async def test_routeros_error_texts() -> None:
    r = make()
    await run(r, "/ip address add address=10.0.0.1/24 interface=ether1")
    assert await run(r, "/ip address add address=10.0.0.1/24 interface=ether1") == (
        "failure: already have such entry\n"
    )
    assert await run(r, "/foo bar") == "bad command name foo (line 1 column 2)\n"
    assert await run(r, "/ip address set 7 comment=x") == "no such item\n"
    assert await run(r, "/interface vlan add name=ether2 vlan-id=5 interface=ether1") == (
        "failure: already have interface with such name\n"
    )
    assert (await run(r, '/ip address add comment="open')).startswith("syntax error (line 1")


async def test_relative_menus_variables_blocks_and_semicolons() -> None:
    r = make()
    console = r.open_console("admin")
    await console.execute("/ip firewall filter")
    assert console.path == "/ip firewall filter"
    await console.execute("add chain=input action=accept; add chain=input action=drop")
    assert await console.execute("print count-only") == "2\n"
    out = await console.execute(':local x "hi there"; { :local y 5; :put $y }; :put $x')
    assert out == "5\nhi there\n"
    assert await console.execute(":put [/system identity get name]") == "gw1\n"


async def test_set_by_default_name_and_move_place_before() -> None:
    r = make()
    await run(r, "/interface ethernet set [ find default-name=ether1 ] name=wan")
    await run(r, "/ip firewall filter add chain=input action=drop comment=last")
    await run(r, "/ip firewall filter add chain=input action=accept comment=first place-before=0")
    text = r.config_text()
    assert "set [ find default-name=ether1 ] name=wan" in text
    assert text.index("comment=first") < text.index("comment=last")
    await run(r, "/ip firewall filter move 1 destination=0")
    assert r.config_text().index("comment=last") < r.config_text().index("comment=first")


# -- export ----------------------------------------------------------------------------
async def test_export_header_per_version_and_sensitive_defaults() -> None:
    v6 = make("6.49", "hAP ac")
    v7 = make("7.18")
    for r in (v6, v7):
        await run(r, "/ppp secret add name=u password=s3cret")
    e6 = await run(v6, "/export")
    e7 = await run(v7, "/export")
    assert e6.startswith("# feb/09/2024 08:47:35 by RouterOS 6.49\n# software id = ")
    assert "# model = RouterBOARD 962UiGS-5HacT2HnT" in e6
    assert e7.startswith("# 2024-02-09 08:47:35 by RouterOS 7.18\n# system id = ")
    assert "password=s3cret" in e6 and "password" not in e7
    assert "password=s3cret" in await run(v7, "/export show-sensitive")
    assert "password" not in await run(v6, "/export hide-sensitive")
    assert (await run(v6, "/export show-sensitive")).startswith("expected end of command")


async def test_export_styles_scope_wrapping_and_file() -> None:
    r = make()
    long = "x" * 120
    await run(r, f"/ip address add address=10.0.0.1/24 interface=ether1 comment={long}")
    await run(r, "/system identity set name=core")
    compact = await run(r, "/export")
    assert all(len(line) <= 80 for line in compact.splitlines())
    assert "\\\n    " in compact
    terse = await run(r, "/export terse")
    assert "/ip address add address=10.0.0.1/24" in terse
    scoped = await run(r, "/ip address export")
    assert "/system identity" not in scoped and "/ip address" in scoped
    assert await run(r, "/export file=cfg") == ""
    assert r.files.read("cfg.rsc").decode().startswith("# 2024-02-09")
    assert parse(compact).commands_in("/system identity")[0].get("name") == "core"


# -- import ----------------------------------------------------------------------------
async def test_import_syntax_error_applies_nothing() -> None:
    r = make()
    r.files.write(
        "bad.rsc", b'/ip address add address=10.9.9.9/24 interface=ether1\n/ip addres add x="\n'
    )
    out = await run(r, "/import file-name=bad.rsc")
    assert "syntax error" in out or "bad command name" in out
    assert "10.9.9.9" not in r.config_text()


async def test_import_runtime_error_keeps_earlier_lines() -> None:
    r = make()
    script = (
        "/ip address add address=10.1.1.1/24 interface=ether1\n"
        "/ip address add address=10.1.1.1/24 interface=ether1\n"
        "/ip address add address=10.2.2.2/24 interface=ether1\n"
    )
    r.files.write("s.rsc", script.encode())
    out = await run(r, "/import file-name=s.rsc verbose=yes")
    assert out.splitlines()[0] == "/ip address add address=10.1.1.1/24 interface=ether1"
    assert "failure: already have such entry" in out and "line 2" in out
    assert "10.1.1.1" in r.config_text() and "10.2.2.2" not in r.config_text()


async def test_import_success_and_dry_run_per_version() -> None:
    r = make("7.16")
    r.files.write("ok.rsc", b"/system identity set name=after\n")
    assert (await run(r, "/import file-name=ok.rsc dry-run")).endswith(
        "Script file loaded and executed successfully\n"
    )
    assert r.identity == "gw1"
    assert (await run(r, "/import ok.rsc")).endswith("executed successfully\n")
    assert r.identity == "after"
    old = make("7.12")
    old.files.write("ok.rsc", b"/system identity set name=after\n")
    assert (await run(old, "/import file-name=ok.rsc dry-run")).startswith(
        "expected end of command"
    )


async def test_drop_connections_fault_after_import_line() -> None:
    r = make()
    events: list[str] = []
    r.add_listener(events.append)
    r.faults.drop_after_import_line = 2
    r.files.write(
        "s.rsc",
        b"/ip dns set servers=1.1.1.1\n/system identity set name=a\n/system identity set name=b\n",
    )
    await run(r, "/import s.rsc")
    assert events.count(DROP_CONNECTIONS) == 1
    assert r.identity == "b"


# -- backups, reboot, files --------------------------------------------------------------
async def test_backup_save_load_restores_and_reboots() -> None:
    r = make("7.16", "hAP ac", boot_seconds=20.0)
    events: list[str] = []
    r.add_listener(events.append)
    assert await run(r, "/system backup save name=flash/pre dont-encrypt=yes") == (
        "Configuration backup saved\n"
    )
    assert r.files.size("flash/pre.backup") >= 16 * 1024
    await run(r, "/system identity set name=changed")
    await run(r, "/system backup load name=flash/pre")
    await r.clock.advance(0)
    assert "rebooting" in events and not r.is_up
    await r.clock.advance(19)
    assert not r.is_up
    await r.clock.advance(2)
    assert r.is_up and r.identity == "gw1" and r.uptime() < 2
    assert r.files.exists("flash/pre.backup")


async def test_reboot_loses_ram_files_on_flash_boards() -> None:
    r = make("7.16", "hAP ac", boot_seconds=5.0)
    r.files.write("ram.txt", b"x")
    r.files.write("flash/keep.txt", b"y")
    await run(r, "/system reboot")
    await r.clock.advance(6)
    assert r.is_up and not r.files.exists("ram.txt") and r.files.exists("flash/keep.txt")
    assert "flash" in await run(r, "/file print detail where name=flash")


async def test_encrypted_backup_needs_its_password_and_full_flash_fails() -> None:
    r = make()
    await run(r, "/system backup save name=enc password=pw")
    assert await run(r, "/system backup load name=enc password=nope") == "failure: wrong password\n"
    r.faults.full_flash = True
    assert await run(r, "/system backup save name=x") == "failure: not enough disk space\n"


async def test_slow_flash_makes_save_take_device_time() -> None:
    r = make()
    r.faults.slow_flash_seconds = 40
    import asyncio

    task = asyncio.ensure_future(run(r, "/system backup save name=slow"))
    await r.clock.advance(39)
    assert not task.done()
    await r.clock.advance(2)
    assert (await task) == "Configuration backup saved\n"


# -- scheduler (timing rules: tests/sim/test_scheduler.py) ------------------------------
async def test_on_event_fails_without_policy_right() -> None:
    r = make()
    await run(
        r,
        "/system scheduler add name=p interval=10s policy=read"
        ' on-event="/system identity set name=no"',
    )
    await r.clock.advance(11)
    assert r.identity == "gw1"
    assert any("not enough permissions" in m for _, _, m in r.log_lines)


async def test_device_mode_can_forbid_the_scheduler() -> None:
    r = make("7.18")
    r.device_mode["scheduler"] = "no"
    out = await run(r, '/system scheduler add name=x interval=1m on-event=":log info x"')
    assert out.startswith("failure")
    assert "scheduler: no" in await run(r, "/system device-mode print")
    assert (await run(make("7.16"), "/system device-mode print")).startswith("bad command name")


# -- reachability, power, users ------------------------------------------------------------
async def test_reachability_follows_config() -> None:
    r = make()
    await run(r, "/ip address add address=192.0.2.1/24 interface=ether1")
    ok = {"client_ip": "198.51.100.7", "local_ip": "192.0.2.1", "port": 22}
    assert r.management_verdict(**ok) == "accept"  # type: ignore[arg-type]
    await run(r, "/ip service set ssh address=10.0.0.0/8")
    assert r.management_verdict(**ok) == "drop"  # type: ignore[arg-type]
    await run(r, '/ip service set ssh address=""')
    await run(r, "/ip firewall filter add chain=input src-address=198.51.100.0/24 action=drop")
    assert r.management_verdict(**ok) == "drop"  # type: ignore[arg-type]
    await run(r, "/ip firewall filter disable 0")
    await run(r, "/interface ethernet disable [ find default-name=ether1 ]")
    assert r.management_verdict(**ok) == "drop"  # type: ignore[arg-type]
    await run(r, "/interface ethernet enable [ find default-name=ether1 ]")
    await run(r, "/ip service set ssh port=2222")
    assert r.management_verdict(**ok) == "refuse"  # type: ignore[arg-type]
    assert r.ssh_port() == 2222


async def test_power_loss_at_time_and_power_on() -> None:
    r = make(boot_seconds=5.0)
    r.schedule_power_loss(30)
    await r.clock.advance(31)
    assert not r.is_up
    await r.power_on()
    await r.clock.advance(6)
    assert r.is_up


async def test_users_groups_and_policies() -> None:
    r = make(admin_password="pw")
    assert r.authenticate("admin", "pw") and not r.authenticate("admin", "x")
    await run(r, "/user add name=ro group=read password=r")
    assert r.authenticate("ro", "r")
    assert "write" not in r.user_policies("ro") and "read" in r.user_policies("ro")
    assert await run(r, "/ip address add address=1.1.1.1/32 interface=ether1", user="ro") == (
        "not enough permissions\n"
    )
    assert "password" not in await run(r, "/user print detail")


async def test_reset_configuration_runs_script_after_boot() -> None:
    r = make(boot_seconds=5.0)
    await run(r, "/system identity set name=before")
    r.files.write("after.rsc", b"/system identity set name=scripted\n")
    await run(
        r, "/system reset-configuration no-defaults=yes skip-backup=yes run-after-reset=after.rsc"
    )
    await r.clock.advance(6)
    assert r.is_up and r.identity == "scripted"


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_comment_survives_export_and_reimport(comment: str) -> None:
    import asyncio

    from tikguard.routeros.quoting import quote

    async def go() -> None:
        r = make()
        await run(
            r, f"/ip address add address=10.0.0.1/24 interface=ether1 comment={quote(comment)}"
        )
        exported = await run(r, "/export")
        items = parse(exported).commands_in("/ip address")
        assert items[0].get("comment") == (comment or None) or comment == ""

    asyncio.run(go())


async def test_substitutions_pick_and_place_before() -> None:
    r = make()
    await run(r, "/ip firewall filter add chain=input comment=a")
    await run(r, "/ip firewall filter add chain=input comment=b")
    await run(r, "/ip firewall filter add chain=input comment=c place-before=[ find comment=a ]")
    text = r.config_text()
    assert text.index("comment=c") < text.index("comment=a") < text.index("comment=b")
    await run(r, "/ip firewall filter remove [ :pick [ find dynamic=no ] 1 ]")
    assert "comment=a" not in r.config_text()
    assert await run(r, ":put [ :pick [ /ip firewall filter find ] 0 ]") == "*3\n"


async def test_rename_follows_references() -> None:
    r = make()
    await run(r, "/interface bridge add name=br1")
    await run(r, "/ip address add address=192.0.2.1/24 interface=br1")
    await run(r, "/interface bridge port add bridge=br1 interface=ether2")
    await run(r, "/interface bridge set [ find name=br1 ] name=br2")
    text = r.config_text()
    assert "interface=br2" in text and "bridge=br2" in text and "br1" not in text


async def test_checked_menus_refuse_unknown_arguments_before_import_applies() -> None:
    r = make()
    assert (await run(r, "/ip address add address=1.2.3.4/32 interface=ether1 bogus")).startswith(
        "expected end of command (line 1 column 53)"
    )
    assert (await run(r, "/ip address add adress=1.2.3.4/32 interface=ether1")).startswith(
        "expected end of command (line 1 column 17)"
    )
    assert (await run(r, "/ip service add name=x")).startswith("bad command name add")
    r.files.write("typo.rsc", b"/system identity set name=a\n/ip address add adress=1.1.1.1/32\n")
    out = await run(r, "/import typo.rsc")
    assert out.startswith("expected end of command (line 2 column 17)")
    assert r.identity == "gw1"
    # Menus nobody modelled accept anything, so real exports import.
    assert await run(r, "/routing ospf interface-template add area=a passive") == ""


async def test_script_add_records_owner_and_policy() -> None:
    r = make()
    await run(r, '/system script add name=s source=":log info hi"', user="admin")
    assert "owner=admin" in r.config_text()


async def test_slash_spelling_only_on_v7() -> None:
    assert await run(make("7.12"), "/ip/address/add address=1.1.1.1/32 interface=ether1") == ""
    out = await run(make("6.49"), "/ip/address/add address=1.1.1.1/32 interface=ether1")
    assert out == "bad command name ip/address/add (line 1 column 2)\n"


async def test_state_survives_a_restart_of_the_simulator(tmp_path: Path) -> None:
    r = SimRouter(name="gw1", clock=SimClock(manual=True), state_dir=tmp_path, model="hAP ac")
    await run(r, "/system identity set name=kept")
    await run(r, "/system backup save name=flash/b dont-encrypt=yes")
    r.files.write("ram.txt", b"gone")
    assert r.save_state()
    again = SimRouter(name="gw1", clock=SimClock(manual=True), state_dir=tmp_path, model="hAP ac")
    assert again.identity == "kept"
    assert again.files.exists("flash/b.backup") and not again.files.exists("ram.txt")


async def test_reference_to_missing_interface_is_refused() -> None:
    r = make()
    assert await run(r, "/ip address add address=10.0.0.1/24 interface=nope") == (
        "input does not match any value of interface\n"
    )
    await run(r, "/interface bridge add name=nope")
    assert await run(r, "/ip address add address=10.0.0.1/24 interface=nope") == ""


async def test_power_loss_mid_import_stops_the_rest() -> None:
    import asyncio

    r = make(boot_seconds=5.0)
    r.files.write(
        "slow.rsc",
        b"/system identity set name=one\n:delay 10s\n/system identity set name=two\n",
    )
    task = asyncio.ensure_future(run(r, "/import slow.rsc"))
    await r.clock.advance(5)
    assert r.identity == "one"
    await r.power_loss()
    await r.clock.advance(10)
    await task
    await r.power_on()
    await r.clock.advance(6)
    assert r.is_up and r.identity == "one"


async def test_setting_the_clock_rearms_dated_items_and_keeps_counts() -> None:
    from datetime import datetime

    r = make()
    await run(
        r,
        "/system scheduler add name=d start-date=2024-02-10 start-time=00:00:00"
        ' on-event=":log info d"',
    )
    before = r.scheduler.next_run_in("d")
    assert before is not None and before > 3600
    r.clock.set_time(datetime(2024, 2, 9, 23, 59, 0))
    assert r.scheduler.next_run_in("d") == 60
    await run(r, "/system clock set time=23:59:30")
    assert r.scheduler.next_run_in("d") == 30


async def test_dry_run_has_no_side_effects() -> None:
    r = make("7.18")
    events: list[str] = []
    r.add_listener(events.append)
    r.files.write(
        "p.rsc",
        b'/system scheduler add name=x interval=1m on-event=":log info x"\n'
        b"/system backup save name=dry\n/system reboot\n",
    )
    out = await run(r, "/import p.rsc dry-run")
    assert out.endswith("executed successfully\n")
    await r.clock.advance(120)
    assert events == [] and r.is_up and not r.files.exists("dry.backup")
    assert r.scheduler.run_count("x") == 0 and "name=x" not in r.config_text()


async def test_globals_live_in_the_router_until_reboot() -> None:
    r = make(boot_seconds=1.0)
    await run(r, ":global site ams1")
    assert await run(r, ":put $site") == "ams1\n"
    await run(r, "/system reboot")
    await r.clock.advance(2)
    assert await run(r, ":put $site") == "\n"
    assert "installed-version: 7.16" in await run(r, "/system package update print")


async def test_reset_with_defaults_applies_defconf_and_locks_out_the_wan() -> None:
    r = make("7.16", "hAP ac", boot_seconds=5.0, management_address="198.51.100.9")
    wan = {"client_ip": "203.0.113.5", "local_ip": "198.51.100.9", "port": 22}
    assert r.management_verdict(**wan) == "accept"  # type: ignore[arg-type]
    await run(r, "/system reset-configuration skip-backup=yes")
    await r.clock.advance(6)
    text = r.config_text()
    assert "address=192.168.88.1/24" in text and "in-interface-list=!LAN" in text
    # The management address comes back on ether1, which defconf makes the WAN.
    assert "address=198.51.100.9/32 interface=ether1" in text
    assert r.management_verdict(**wan) == "drop"  # type: ignore[arg-type]
    lan = {"client_ip": "192.168.88.20", "local_ip": "192.168.88.1", "port": 22}
    assert r.management_verdict(**lan) == "accept"  # type: ignore[arg-type]


async def test_dead_man_switch_reverts_a_lockout() -> None:
    """The guarded push's device side: backup, arm, a change that cuts management,
    the timer loads the backup, the router reboots into the pre-push config."""
    r = make("7.16", "hAP ac", boot_seconds=20.0, management_address="198.51.100.9")
    mgmt = {"client_ip": "203.0.113.5", "local_ip": "198.51.100.9", "port": 22}
    before = r.config_text()
    assert await run(r, "/system backup save name=flash/tg-op1 dont-encrypt=yes") == (
        "Configuration backup saved\n"
    )
    await run(
        r,
        '/system scheduler add name=tg-op1 comment="tikguard revert" interval=120s'
        ' on-event="/system backup load name=flash/tg-op1.backup"',
    )
    assert r.scheduler.next_run_in("tg-op1") == 120
    assert "interval=2m " in r.config_text()  # RouterOS prints times canonically
    await run(r, "/ip firewall filter add chain=input action=drop src-address=203.0.113.0/24")
    assert r.management_verdict(**mgmt) == "drop"  # type: ignore[arg-type]
    await r.clock.advance(121)
    assert not r.is_up
    await r.clock.advance(20)
    assert r.is_up and r.uptime() < 2
    assert r.config_text() == before
    assert "tg-op1" not in await run(r, "/system scheduler print detail")
    assert r.management_verdict(**mgmt) == "accept"  # type: ignore[arg-type]


async def test_interface_print_lists_every_kind() -> None:
    r = make()
    await run(r, "/interface bridge add name=br1")
    out = await run(r, "/interface print terse where type=bridge")
    assert "name=br1" in out and "ether1" not in out
    assert "name=ether8" in await run(r, "/interface print detail")


async def test_reset_without_defaults_removes_the_management_address() -> None:
    r = make(boot_seconds=1.0, management_address="198.51.100.9")
    await run(r, "/system reset-configuration no-defaults=yes skip-backup=yes")
    await r.clock.advance(2)
    assert "198.51.100.9" not in r.config_text()
    verdict = r.management_verdict(client_ip="203.0.113.5", local_ip="198.51.100.9", port=22)
    assert verdict == "drop"


async def test_ip_address_network_is_computed_and_exported() -> None:
    r = make()
    await run(r, "/ip address add address=10.0.2.100/24 interface=ether1")
    await run(r, "/ip address add address=10.9.9.1 interface=ether1 network=10.9.9.2")
    out = await run(r, "/ip address export")
    assert "add address=10.0.2.100/24 interface=ether1 network=10.0.2.0\n" in out
    assert "add address=10.9.9.1 interface=ether1 network=10.9.9.2\n" in out
    await run(r, "/ip address set [find address=10.0.2.100/24] address=172.16.5.5/16")
    assert "add address=172.16.5.5/16 interface=ether1 network=172.16.0.0\n" in (
        await run(r, "/ip address export")
    )


async def test_export_cache_follows_every_change_and_the_clock() -> None:
    r = make()
    first = await run(r, "/export")
    assert await run(r, "/export") == first
    await run(r, "/ip address add address=10.1.1.1/24 interface=ether1")
    second = await run(r, "/export")
    assert "10.1.1.1/24" in second
    await r.clock.advance(3600)
    third = await run(r, "/export")
    assert third.splitlines()[1:] == second.splitlines()[1:]
    assert third.splitlines()[0] != second.splitlines()[0]
    uncached = make(export_cache=False)
    await run(uncached, "/ip address add address=10.1.1.1/24 interface=ether1")
    assert (await run(uncached, "/export")).splitlines()[1:] == third.splitlines()[1:]


async def test_v7_print_is_a_table_with_columns_as_routeros_prints_it() -> None:
    r = make()
    await run(r, "/ip address add address=10.0.2.100/24 interface=ether1 comment=uplink")
    await run(r, "/ip address add address=192.168.100.1/24 interface=ether2 disabled=yes")
    assert await run(r, "/ip address print") == (
        "Flags: X - DISABLED\n"
        "Columns: ADDRESS, NETWORK, INTERFACE\n"
        "#   ADDRESS           NETWORK        INTERFACE\n"
        ";;; uplink\n"
        "0   10.0.2.100/24     10.0.2.0       ether1   \n"
        "1 X 192.168.100.1/24  192.168.100.0  ether2   \n"
    )
    # no flagged item: no Flags line and no flag column (corpus: ip_address_print_4)
    await run(r, "/ip address remove 1")
    assert (await run(r, "/ip address print")).splitlines()[:3] == [
        "Columns: ADDRESS, NETWORK, INTERFACE",
        "# ADDRESS        NETWORK   INTERFACE",
        ";;; uplink",
    ]
    # the other forms keep their shapes; numbers still select from the table
    assert "address=10.0.2.100/24 interface=ether1 network=10.0.2.0" in (
        await run(r, "/ip address print detail")
    )
    assert await run(r, "/ip address print terse") == (
        " 0   comment=uplink address=10.0.2.100/24 interface=ether1 network=10.0.2.0\n"
    )
    assert await run(r, "/ip address print as-value") == (
        ".id=*1;address=10.0.2.100/24;comment=uplink;disabled=false;interface=ether1;"
        "network=10.0.2.0\n"
    )
    assert await run(r, "/ip address print count-only") == "1\n"
    old = make(version="6.49")
    await run(old, "/ip address add address=10.0.2.100/24 interface=ether1")
    assert "Columns:" not in await run(old, "/ip address print")


async def test_if_foreach_set_and_len_as_scheduler_scripts_use_them() -> None:
    r = make()
    await run(r, "/ip address add address=10.0.2.1/24 interface=ether1 comment=uplink")
    await run(r, "/ip address add address=10.0.3.1/24 interface=ether1")
    assert await run(r, ":put [:len [/ip address find]]") == "2\n"
    assert await run(r, ":put [:len [/ip address find where comment=none]]") == "0\n"
    assert await run(r, ':put [:len "uplink"]') == "6\n"
    check = ':local n [:len [/ip address find]]; :if ($n = 2) do={:put two} else={:put "not two"}'
    assert await run(r, check) == "two\n"
    assert await run(r, check.replace("$n = 2", "$n != 2")) == "not two\n"
    both = ":if ([:len [/ip address find where comment=uplink]] > 0 && 1 < 2) do={ :put yes }"
    assert await run(r, both) == "yes\n"
    loop = ":foreach i in=[/ip address find] do={\n:put [/ip address get $i address]\n}"
    assert await run(r, loop) == "10.0.2.1/24\n10.0.3.1/24\n"
    multi = (
        ':local found "no"\n'
        ":foreach i in=[/ip address find] do={\n"
        '  :if ([/ip address get $i comment] = "uplink") do={ :set found "yes" }\n'
        "}\n"
        ":if ($found = yes) do={\n"
        "  /ip address set [find comment=uplink] disabled=yes\n"
        "} else={ :put missing }\n"
    )
    assert await run(r, multi) == ""
    assert " 0 X ;;; uplink" in await run(r, "/ip address print detail where comment=uplink")
    # an error inside a block ends the whole run with RouterOS's text
    out = await run(r, ":if (1 = 1) do={ /nope }\n:put after")
    assert out.startswith("bad command name nope") and "after" not in out


async def test_import_runs_an_if_whose_blocks_span_lines() -> None:
    r = make()
    r.files.write(
        "check.rsc",
        b":if ([:len [/ip address find]] = 0) do={\n"
        b"/system identity set name=empty\n"
        b"} else={\n"
        b":put no\n"
        b"}\n"
        b"/ip address add address=10.0.0.1/24 interface=ether1\n",
    )
    assert await run(r, "/import file-name=check.rsc") == (
        "Script file loaded and executed successfully\n"
    )
    assert r.identity == "empty"
    assert "10.0.0.1/24" in await run(r, "/ip address export")
