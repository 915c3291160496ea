"""Compliance rules and the fleet's verdicts under them."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tikguard.api.deps import Admin, Operator, State, Viewer
from tikguard.api.schemas import ComplianceChangeOut, ComplianceReportOut
from tikguard.ops import compliance
from tikguard.store.compliance import MAX_TEXT

router = APIRouter(tags=["compliance"])


class RulesIn(BaseModel):
    """A rules file (YAML: ``rules:`` a list of id, must or must-not, severity, ...)."""

    text: str = Field(max_length=MAX_TEXT)


class RulesOut(BaseModel):
    text: str
    rules: list[dict[str, Any]]


def _report(found: compliance.Report) -> ComplianceReportOut:
    return ComplianceReportOut.model_validate(found, from_attributes=True)


@router.get("/compliance", response_model=ComplianceReportOut)
async def report(state: State, who: Viewer) -> ComplianceReportOut:
    """Every rule with the routers that violate it, and the recent changes."""
    return _report(await asyncio.to_thread(compliance.report, state.db, who.tenant_id))


@router.post("/compliance/check", response_model=ComplianceReportOut)
async def check(state: State, who: Operator) -> ComplianceReportOut:
    """Judge every router's newest version now, then report."""
    return _report(await asyncio.to_thread(compliance.check, state.db, who.tenant_id))


@router.get("/compliance/rules", response_model=RulesOut)
async def get_rules(state: State, who: Viewer) -> RulesOut:
    """The tenant's rules file as loaded, and the rules as understood."""
    text, loaded = await asyncio.to_thread(compliance.rules, state.db, who.tenant_id)
    return RulesOut(text=text, rules=[r.as_json() for r in loaded])


@router.put("/compliance/rules", response_model=RulesOut)
async def put_rules(body: RulesIn, state: State, who: Admin) -> RulesOut:
    """Check and store the rules file (a bad one is refused whole: 422 naming each bad
    rule), then judge every router by it."""
    loaded = await asyncio.to_thread(
        lambda: compliance.load_rules(state.db, who.tenant_id, body.text, actor=who.actor)
    )
    return RulesOut(text=body.text, rules=[r.as_json() for r in loaded])


@router.get("/compliance/changes", response_model=list[ComplianceChangeOut])
async def changes(state: State, who: Viewer, since: datetime) -> list[ComplianceChangeOut]:
    """Violations that appeared or were resolved at or after ``since`` (ISO 8601)."""
    found = await asyncio.to_thread(compliance.changes_since, state.db, who.tenant_id, since)
    return [ComplianceChangeOut.model_validate(c, from_attributes=True) for c in found]
