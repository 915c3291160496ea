"""Planning and convergence (pure): what the push sends, and when the read-back counts
as the intended result."""

from __future__ import annotations

from tikguard.device.guard import Names, read_import_output, reset_script
from tikguard.ops.push.plan import (
    converged_to,
    merge_converged,
    parse_snippet,
    plan_merge,
    plan_restore,
)
from tikguard.routeros.lexer import decode_value
from tikguard.routeros.quoting import quote

RUNNING = (
    "/interface ethernet\nset [ find default-name=ether1 ] comment=uplink\n"
    "/ip address\nadd address=192.0.2.1/24 interface=ether1\n"
    "/ip dns\nset servers=1.1.1.1\n"
)


def test_restore_plan_is_a_patch_with_risk_tags() -> None:
    target = RUNNING.replace("192.0.2.1/24", "192.0.2.9/24")
    plan = plan_restore(RUNNING, target)
    assert "192.0.2.9/24" in plan.script
    assert any(tag["tag"] == "address" for tag in plan.risk)
    assert plan.unsupported == []
    assert "script" not in plan.as_json()  # scripts may carry secrets: never in the plan row


def test_merge_plan_keeps_lines_it_cannot_parse_and_names_them() -> None:
    snippet = '/ip address remove [ find address~"^192.0.2" ]\n/ip dns set servers=9.9.9.9\n'
    plan = plan_merge(RUNNING, snippet)
    assert plan.script == snippet
    assert any(tag["tag"] == "unanalysed" for tag in plan.risk)
    config, skipped = parse_snippet(snippet)
    assert skipped == ['/ip address remove [ find address~"^192.0.2" ]']
    assert config.commands_in("/ip dns")


def test_merge_convergence() -> None:
    after = RUNNING.replace("1.1.1.1", "8.8.8.8")
    assert merge_converged(after, "/ip dns set servers=8.8.8.8\n")[0]
    assert merge_converged(after, "/ip dns set servers=9.9.9.9\n/ip dns set servers=8.8.8.8\n")[0]
    assert not merge_converged(after, "/ip dns set servers=9.9.9.9\n")[0]
    assert merge_converged(after, "/ip address add address=192.0.2.1/24 interface=ether1\n")[0]
    ok, why = merge_converged(after, "/ip address add address=10.0.0.1/24 interface=ether1\n")
    assert not ok and "10.0.0.1/24" in why


def test_convergence_ignores_only_our_own_scheduler() -> None:
    ours = Names("abc123", on_flash=False).scheduler
    after = RUNNING + f"/system scheduler\nadd interval=2m name={ours} on-event=x\n"
    assert converged_to(after, RUNNING, ignore_scheduler=ours)[0]
    assert not converged_to(after, RUNNING, ignore_scheduler="someone-else")[0]


def test_import_output_success_needs_the_success_line_and_no_error() -> None:
    assert read_import_output("Script file loaded and executed successfully\n").ok
    bad = read_import_output("failure: already have such entry\n(line 3 column 1)\n")
    assert not bad.ok and bad.line == 3 and bad.error == "failure: already have such entry"
    assert not read_import_output("").ok  # silence is not success


def test_names_are_operation_scoped_and_quoted_in_the_reset_script() -> None:
    names = Names("0123456789abcdef0123456789abcdef", on_flash=True)
    assert names.backup_file == "flash/tikguard-0123456789abcdef01234567.backup"
    script = reset_script(names, 120, '/system identity set name="a \\"b\\" $c"\n')
    first = script.splitlines()[0]
    assert first.startswith("/system scheduler add name=tikguard-")
    assert "interval=120s" in first and f"comment={quote(names.marker)}" in first
    on_event = first.split("on-event=", 1)[1]
    assert decode_value(on_event) == f'/system backup load name={names.backup_file} password=""'


def test_merge_preview_shows_singleton_sets_and_selected_items() -> None:
    running = RUNNING + "/interface bridge\nadd name=br0\n/ip dns\nset allow-remote-requests=yes\n"
    snippet = (
        "/ip dns set servers=9.9.9.9\n"
        "/ip address add address=10.1.1.1/24 interface=ether2\n"
        "/interface bridge set [ find name=br0 ] comment=lan\n"
        "/ip address remove [ find address=192.0.2.1/24 ]\n"
    )
    plan = plan_merge(running, snippet)
    assert "servers: 1.1.1.1 -> 9.9.9.9" in plan.diff_text
    assert "allow-remote-requests" not in plan.diff_text  # untouched by the snippet
    assert "+ address=10.1.1.1/24 interface=ether2" in plan.diff_text
    assert "comment: (unset) -> lan" in plan.diff_text
    assert "- address=192.0.2.1/24 interface=ether1" in plan.diff_text
    assert plan.diff_summary == {"added": 1, "removed": 1, "changed": 2, "moved": 0}
    # a singleton the running config never set is changed too
    bare = plan_merge("/ip address\nadd address=192.0.2.1/24 interface=ether1\n", snippet)
    assert "servers: (unset) -> 9.9.9.9" in bare.diff_text


def test_scripts_on_screen_hide_secrets_and_the_router_gets_them() -> None:
    running = RUNNING + "/user\nadd group=full name=bob password=old-pass\n"
    running += "/snmp community\nset [ find default=yes ] name=public\n"
    target = running.replace("old-pass", "new-pass").replace("name=public", "name=c0mmunity")
    plan = plan_restore(running, target)
    assert "password=new-pass" in plan.script and "name=c0mmunity" in plan.script
    assert "new-pass" not in plan.shown_script and "c0mmunity" not in plan.shown_script
    assert "set [ find name=bob ] password=" in plan.shown_script
    assert "(hidden)" in plan.shown_script
    merge = plan_merge(running, '/user set bob password="s3cret"\n:delay 1s; /log info x\n')
    assert "s3cret" in merge.script and "s3cret" not in merge.shown_script


def test_convergence_ignores_console_only_lines() -> None:
    target = RUNNING + ":delay 2s\n"
    assert converged_to(RUNNING, target)[0]
    ok, why = converged_to(RUNNING.replace("1.1.1.1", "8.8.8.8"), target)
    assert not ok and "/ip dns" in why
