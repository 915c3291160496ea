"""What the API and the UI share at run time: the app's state, and the engine check.

Both front ends are mounted on one FastAPI app (:func:`tikguard.api.app.create_app`);
neither imports the other's internals, only this package.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from tikguard.server.errors import ApiError
from tikguard.server.events import EventHub
from tikguard.server.ratelimit import RateLimits
from tikguard.server.sessions import SessionSigner
from tikguard.server.throttle import LoginThrottle
from tikguard.settings import Settings
from tikguard.store.db import Database

__all__ = ["AppState", "app_state", "need_engine"]


@dataclass
class AppState:
    settings: Settings
    db: Database
    signer: SessionSigner
    hub: EventHub
    throttle: LoginThrottle
    #: Per-tenant limits on adding and probing devices (the controller as a scanner).
    limits: RateLimits
    #: True when this process runs the durable-workflow engine (pushes, backups).
    engine: bool


def app_state(request: Request) -> AppState:
    state = request.app.state.tikguard
    assert isinstance(state, AppState)
    return state


def need_engine(state: AppState) -> None:
    if not state.engine:
        raise ApiError(
            503,
            "this server does not run the workflow engine",
            "start tikguard with `tikguard serve`",
        )
