"""Our own exceptions for discovery and ONVIF, sorted by what the caller should do."""

from __future__ import annotations


class OnvifError(Exception):
    """A device could not be interrogated; `kind` says why, `address` which one."""

    kind = "error"

    def __init__(self, address: str, message: str):
        super().__init__(f"{address}: {message}")
        self.address = address
        self.reason = message


class DeviceUnreachable(OnvifError):
    """Nothing answered (refused, reset, timed out): mark offline, retry later."""

    kind = "unreachable"


class DeviceUntrusted(OnvifError):
    """ONVIF over HTTPS, and the device could not prove who it is: its certificate is not
    from a trusted CA or names another host, or it spoke no TLS. Nothing was sent to it,
    credentials included. Another device may answer at its address: retry slowly."""

    kind = "untrusted"


class DeviceNotAuthorized(OnvifError):
    """The device rejected our credentials: fail fast, do not retry with the same ones."""

    kind = "unauthorized"


class NotOnvifDevice(OnvifError):
    """Something answered HTTP, but not with ONVIF SOAP."""

    kind = "not_onvif"


class ProbeError(Exception):
    """A WS-Discovery probe cannot be set up (no interface for multicast, no route...)."""


class TargetError(ValueError):
    """A target address, range or CIDR block is malformed, unsafe or too large."""


class DeviceRejected(OnvifError):
    """The device refused a setting (SOAP fault such as ter:ConfigModify): fix the input."""

    kind = "rejected"


class MalformedAnswer(OnvifError):
    """The device answered, but not with what the operation promises (empty, truncated,
    wrong element, values of the wrong type): it will not heal by asking again at once."""

    kind = "malformed"
