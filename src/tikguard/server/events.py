"""Live operation events for many listeners, read once from the durable rows.

Events are rows (see :mod:`tikguard.store.operations`); the stream is only a view.
One feed per operation polls the database for rows after the last seq it saw and
fans them out to every listener of that operation, so 200 browsers watching one push
cost one query per poll, not 200. A listener resumes after any seq
(``Last-Event-ID``): the feed keeps the operation's events in memory while anyone
listens. The feed ends when the operation has finished and its last event is out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from tikguard.ops import operations as operations_ops
from tikguard.store.db import Database


@dataclass
class _Feed:
    events: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    outcome: str | None = None
    listeners: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None


class EventHub:
    def __init__(self, db: Database, poll_seconds: float = 0.25) -> None:
        self.db = db
        self.poll = poll_seconds
        self._feeds: dict[tuple[int, str], _Feed] = {}

    def _read(
        self, tenant_id: int, op_id: str, after: int
    ) -> tuple[list[dict[str, Any]], bool, str | None]:
        """New events and whether the operation has ended, in one read snapshot."""
        op, rows = operations_ops.snapshot(self.db, tenant_id, op_id, after)
        events = [
            {
                "seq": e.seq,
                "at": e.at.isoformat(),
                "stage": e.stage,
                "level": e.level,
                "message": e.message,
                "data": e.data,
            }
            for e in rows
        ]
        return events, op.outcome is not None, op.outcome

    async def _run(self, key: tuple[int, str], feed: _Feed) -> None:
        tenant_id, op_id = key
        try:
            while True:
                after = feed.events[-1]["seq"] if feed.events else 0
                events, done, outcome = await asyncio.to_thread(self._read, tenant_id, op_id, after)
                async with feed.changed:
                    feed.events.extend(events)
                    feed.outcome = outcome
                    feed.changed.notify_all()
                # The operation row and its events are read in one snapshot: once it
                # is done, every event it wrote is in hand.
                if done or feed.listeners == 0:
                    break
                await asyncio.sleep(self.poll)
        finally:
            async with feed.changed:
                feed.done = True
                feed.changed.notify_all()
            if self._feeds.get(key) is feed:
                del self._feeds[key]

    async def listen(
        self, tenant_id: int, op_id: str, after_seq: int = 0
    ) -> AsyncIterator[dict[str, Any]]:
        """Events with seq > ``after_seq``, live, until the operation has ended.

        The caller has checked that the operation belongs to ``tenant_id``.
        """
        key = (tenant_id, op_id)
        feed = self._feeds.get(key)
        if feed is None:
            feed = self._feeds[key] = _Feed()
            feed.listeners += 1
            feed.task = asyncio.create_task(self._run(key, feed))
        else:
            feed.listeners += 1
        sent = after_seq
        try:
            while True:
                async with feed.changed:
                    pending = _after(feed.events, sent)
                    if not pending:
                        if feed.done:
                            break
                        await feed.changed.wait()
                        continue
                for event in pending:
                    sent = event["seq"]
                    yield event
        finally:
            feed.listeners -= 1

    async def close(self) -> None:
        for feed in list(self._feeds.values()):
            if feed.task is not None:
                feed.task.cancel()
                with contextlib.suppress(BaseException):
                    await feed.task
        self._feeds.clear()


def _after(events: list[dict[str, Any]], seq: int) -> list[dict[str, Any]]:
    """The events with seq > ``seq`` (events are in seq order, 1, 2, 3, ...)."""
    if not events or events[-1]["seq"] <= seq:
        return []
    return [e for e in events if e["seq"] > seq]
