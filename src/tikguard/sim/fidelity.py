"""Round-trip an export through a simulated router: import it, export it, compare.

The fidelity test and ``bench`` use this: for a real export of a version the simulator
models, build a blank router of that version whose built-in items match the export,
import the export, export again in the same style, and compare the two semantically
(items by identity, properties by value; header and layout ignored).
"""

from __future__ import annotations

from dataclasses import dataclass

from tikguard.routeros.items import collect
from tikguard.routeros.model import Config
from tikguard.routeros.parse import parse
from tikguard.sim.clock import SimClock
from tikguard.sim.defaults import builtins_for_export
from tikguard.sim.profiles import profile_for
from tikguard.sim.router import SimRouter


@dataclass
class RoundTrip:
    equal: bool
    import_output: str
    exported: str
    differences: list[str]


def _projection(config: Config) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for path, menu in collect(config).items():
        rows: list[object] = [(i.key, i.props, i.unset) for i in menu.items]
        if not menu.schema.ordered:
            rows.sort(key=repr)  # item order only matters where the schema says so
        rows.extend(("opaque", c.verb, c.props, c.selector, c.args) for c in menu.opaque)
        if rows:
            out[path] = rows
    return out


def differences(a: Config, b: Config) -> list[str]:
    pa, pb = _projection(a), _projection(b)
    out: list[str] = []
    for path in sorted(set(pa) | set(pb)):
        ra, rb = pa.get(path, []), pb.get(path, [])
        if ra == rb:
            continue
        missing = [r for r in ra if r not in rb]
        extra = [r for r in rb if r not in ra]
        if not missing and not extra:
            out.append(f"{path}: same items, different order")
        for r in missing[:3]:
            out.append(f"{path}: lost {r}")
        for r in extra[:3]:
            out.append(f"{path}: gained {r}")
    return out


def matching_router(original: Config, *, time_scale: float = 1000.0) -> SimRouter:
    """A blank router of the export's version whose built-in items match it."""
    version = original.meta.ros_version or "7.16"
    builtins = builtins_for_export(original)
    ethers = tuple(
        values["default-name"]
        for ref, values in builtins.pop("/interface ethernet", [])
        if "default-name" in values
    )
    router = SimRouter(
        name="MikroTik",
        version=version,
        clock=SimClock(time_scale=time_scale),
        interfaces=ethers,
        extra_builtins=builtins,
        scheduler_runs=False,  # the imported schedulers must not change what we compare
        # An export does not list the board's unconfigured ports (nor dangling names),
        # so the router cannot know every interface the export refers to.
        check_references=False,
    )
    router.files.capacity = 1 << 30
    return router


async def round_trip(text: str, *, name: str = "fidelity.rsc") -> RoundTrip:
    """Import ``text`` into a matching blank router and compare its export with it."""
    original = parse(text)
    profile = profile_for(original.meta.ros_version or "7.16")
    router = matching_router(original)
    router.files.write(name, text.encode("utf-8", "surrogateescape"))
    output = await router.execute(f"/import file-name={name}", user="admin")
    style = original.meta.style or "compact"
    args = {"terse": " terse", "verbose": " verbose"}.get(style, "")
    if not profile.sensitive_shown_by_default:
        args += " show-sensitive"
    exported = await router.execute(f"/export{args}", user="admin")
    diffs = differences(original, parse(exported))
    ok = output.rstrip().endswith("Script file loaded and executed successfully")
    return RoundTrip(ok and not diffs, output, exported, diffs)
