"""How a rollout's encrypted texts are bound: purposes and record refs.

Kept in the store (not beside the rollout service) because key rotation re-encrypts
them and must make the same refs.
"""

from __future__ import annotations

#: The operator's script or template (ref: the rollout id).
ROLLOUT_SOURCE_PURPOSE = "rollout-source"
#: One router's rendered change (ref: :func:`rollout_script_ref`).
ROLLOUT_SCRIPT_PURPOSE = "rollout-script"


def rollout_script_ref(rollout_id: str, device_id: int) -> str:
    return f"{rollout_id}:{device_id}"
