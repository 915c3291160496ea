"""The wire between tikguard and a simulated router: reachability and network faults.

RouterOS answers a management connection in one of three ways, and the simulator
keeps them apart because tikguard reports them differently:

* ``accept``: the SSH service answers.
* ``refuse``: the port is closed (SSH service disabled or moved): the client gets a
  TCP reset at once.
* ``drop``: packets vanish (management address removed, interface disabled, input
  firewall drop, service ``address=`` not matching): the client waits until its own
  timeout.
"""

from __future__ import annotations

import contextlib
import inspect
import random
import socket
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from tikguard.process import STATE

if TYPE_CHECKING:
    from tikguard.sim.router import SimRouter

Verdict = Literal["accept", "refuse", "drop"]

_LINGER_RESET = struct.pack("ii", 1, 0)


def management_verdict(
    router: SimRouter, *, client_ip: str, local_ip: str, port: int, established: bool = False
) -> Verdict:
    """How the router answers management traffic from ``client_ip``.

    ``established`` asks about a session that is already open (a firewall that accepts
    ``connection-state=established`` first keeps it alive while new ones are dropped);
    routers whose verdict does not take it are asked as for a new connection.
    """
    if not router.is_up:
        return "drop"
    detailed = getattr(router, "management_verdict", None)
    if detailed is None:
        allowed = router.allows_management(client_ip=client_ip, local_ip=local_ip, port=port)
        return "accept" if allowed else "drop"
    if established and _takes_established(type(router)):
        result: Verdict = detailed(
            client_ip=client_ip, local_ip=local_ip, port=port, established=True
        )
        return result
    result = detailed(client_ip=client_ip, local_ip=local_ip, port=port)
    return result


@dataclass
class EstablishedParameter:
    """Which router classes' reachability takes ``established``, by class name (read
    once per class; held in :data:`tikguard.process.STATE`)."""

    takes: dict[str, bool] = field(default_factory=dict)


def _takes_established(router_type: type) -> bool:
    takes = STATE.of(EstablishedParameter).takes
    key = f"{router_type.__module__}.{router_type.__qualname__}"
    if key not in takes:
        takes[key] = _has_parameter(router_type, "established")
    return takes[key]


def _has_parameter(router_type: type, name: str) -> bool:
    method = getattr(router_type, "management_verdict", None)
    try:
        return method is not None and name in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def arm_reset(sock: socket.socket) -> None:
    """Make the next close of ``sock`` send a TCP reset (RST) instead of a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)


def reset_socket(sock: socket.socket) -> None:
    """Close a TCP socket with a reset, as a router that forgot the connection."""
    arm_reset(sock)
    sock.close()


@dataclass
class RandomDisconnects:
    """Reset connections at random moments, reproducibly from ``seed``.

    Rolled when a connection arrives and before each command's output is written, so
    the same seed and the same sequence of sessions give the same disconnects.
    """

    probability: float
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        self._rng = random.Random(self.seed)

    def roll(self) -> bool:
        """True when this moment should drop the connection."""
        return self._rng.random() < self.probability
