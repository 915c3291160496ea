"""The operations list as a person reads it: a request for several routers (a push to
five routers, "back up all") is one row with its routers, not five unrelated rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tikguard.ops.operations import OperationInfo


@dataclass
class Request:
    """The operations one request created, newest request first in the list."""

    ops: list[OperationInfo] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.ops[0].kind

    @property
    def created_at(self) -> datetime:
        return min(o.created_at for o in self.ops)

    @property
    def requested_by(self) -> str | None:
        return self.ops[0].requested_by

    def tally(self) -> list[tuple[str, int]]:
        """How many routers ended each way (``running`` for those still going)."""
        counts = Counter(o.outcome or _unfinished(o.state) for o in self.ops)
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _unfinished(state: str) -> str:
    return "waiting" if state == "waiting" else "running"


def grouped(
    ops: Sequence[OperationInfo], together: dict[str, int]
) -> list[OperationInfo | Request]:
    """``ops`` (newest first) with those of one request (``together``: op id -> request)
    folded into one :class:`Request` where the request's newest operation stood."""
    out: list[OperationInfo | Request] = []
    requests: dict[int, Request] = {}
    for op in ops:
        key = together.get(op.id)
        if key is None:
            out.append(op)
            continue
        if key not in requests:
            requests[key] = Request()
            out.append(requests[key])
        requests[key].ops.append(op)
    for request in requests.values():
        request.ops.sort(key=lambda o: o.device or "")
    # a request of which only one operation is listed (filters) is a plain row again
    return [r.ops[0] if isinstance(r, Request) and len(r.ops) == 1 else r for r in out]
