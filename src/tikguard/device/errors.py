"""Typed errors for talking to a router, each saying what happened and what to do next.

Every error names the device, carries a short machine-readable ``reason`` (used in
fleet results and the device row) and a ``hint`` for the operator. No error text ever
contains a password or a configuration secret.
"""

from __future__ import annotations

#: What a tenant is told about any failure to reach a router tikguard has never
#: verified (no pinned host key): a closed port, a non-SSH service, a refused login and
#: a silent address all read the same, so the controller is no scanner for tenants.
UNVERIFIED_MESSAGE = (
    "could not verify a RouterOS router there: no SSH login has succeeded at this address yet"
)
UNVERIFIED_HINT = (
    "check the address, port, username and password, and that /ip service ssh allows "
    "this controller (the controller's log has the details)"
)


class DeviceError(Exception):
    """Something went wrong talking to one router."""

    reason = "error"
    #: Raised while connecting to a router whose host key is not pinned yet.
    first_contact = False

    def __init__(self, device: str, message: str, hint: str | None = None) -> None:
        self.device = device
        self.message = message
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        return self.message

    def for_tenant(self) -> tuple[str, str, str | None]:
        """``(reason, message, hint)`` as a tenant may see them: uniform on first contact."""
        if self.first_contact:
            return "unverified", f"{self.device}: {UNVERIFIED_MESSAGE}", UNVERIFIED_HINT
        return self.reason, self.message, self.hint


class Unreachable(DeviceError):
    """No SSH session could be opened: refused, no route, DNS, or connect timeout."""

    reason = "unreachable"


class DeviceTimeout(DeviceError):
    """The router accepted the connection but did not answer a command in time."""

    reason = "timeout"


class AuthFailed(DeviceError):
    """The router refused the username or password."""

    reason = "auth-failed"


class HostKeyChanged(DeviceError):
    """The router presented a host key other than the pinned one: refuse everything."""

    reason = "host-key-changed"

    def __init__(
        self,
        device: str,
        old_fingerprint: str,
        new_fingerprint: str | None,
        new_key: str | None = None,
    ) -> None:
        self.old_fingerprint = old_fingerprint
        self.new_fingerprint = new_fingerprint
        #: The key presented (OpenSSH format), to record as pending; None if unread.
        self.new_key = new_key
        new = new_fingerprint or "(could not be read)"
        super().__init__(
            device,
            f"host key of {device} changed: pinned {old_fingerprint}, presented {new}; "
            "refusing to connect (this can be a reinstalled router or an impostor)",
            hint=f"if the router was reinstalled or its key regenerated on purpose, run: "
            f"tikguard device accept-hostkey {device}",
        )


class ConnectionLost(DeviceError):
    """The SSH session dropped while a command or transfer was running."""

    reason = "connection-lost"


class RouterOSCommandError(DeviceError):
    """RouterOS printed an error for a command (the exit status is not trusted)."""

    reason = "command-error"

    def __init__(self, device: str, command: str, error: str, output: str) -> None:
        self.command = command
        self.error = error
        self.output = output
        super().__init__(device, f"{device}: `{command}` failed: {error}")


class TransferFailed(DeviceError):
    """An SFTP upload or download did not complete."""

    reason = "transfer-failed"
