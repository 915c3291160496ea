"""The guarded push: plan, preflight, revert point, arm, apply, verify, commit or revert.

The public face every caller (CLI, API, UI, benchmarks) uses. Inside: ``request``
(check, submit, wait, confirm, preview), ``workflow`` (the durable DBOS workflow),
``preflight`` (the read-only checks the dry run shares), ``steps`` and ``verify`` (its
recorded steps before and after the apply), ``results`` (the typed request and step
results), ``recorded`` (how a step is recorded), ``events`` (event rows and the
outcome, each once), ``context`` (settings, sessions and the one registry of per-push
state), ``plan`` (the script and its risk, pure), ``evidence`` (the verdict from what
was read back).
See docs/push.md.
"""

from tikguard.ops.push.evidence import Evidence, Verdict, classify
from tikguard.ops.push.plan import Plan
from tikguard.ops.push.request import (
    Preview,
    PushRequest,
    Submitted,
    check_options,
    check_request,
    close_orphans,
    confirm,
    preview,
    script_refusal,
    submit,
    wait,
    workflow_name,
)
from tikguard.ops.push.results import MODES
from tikguard.ops.push.workflow import CONFIRM_TOPIC, WORKFLOW_NAME

__all__ = [
    "CONFIRM_TOPIC",
    "MODES",
    "WORKFLOW_NAME",
    "Evidence",
    "Plan",
    "Preview",
    "PushRequest",
    "Submitted",
    "Verdict",
    "check_options",
    "check_request",
    "classify",
    "close_orphans",
    "confirm",
    "preview",
    "script_refusal",
    "submit",
    "wait",
    "workflow_name",
]
