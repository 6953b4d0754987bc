"""ONVIF boundary: WS-Discovery probes and the onvif-zeep adapter; our own types out."""

from .client import OnvifClient
from .errors import (
    DeviceNotAuthorized,
    DeviceRejected,
    DeviceUnreachable,
    DeviceUntrusted,
    MalformedAnswer,
    NotOnvifDevice,
    OnvifError,
    ProbeError,
    TargetError,
)
from .models import (
    DeviceInfo,
    DeviceReport,
    DeviceSettings,
    EncoderChange,
    EncoderOptions,
    EncoderSettings,
    Login,
    MediaProfile,
    ProbeMatch,
    SettingsChange,
)
from .targets import MAX_TARGETS, parse_targets, split_targets
from .wsdiscovery import WsDiscoveryProbe, interface_address

__all__ = [
    "MAX_TARGETS", "DeviceInfo", "DeviceNotAuthorized", "DeviceRejected", "DeviceReport",
    "DeviceSettings", "DeviceUnreachable", "DeviceUntrusted", "EncoderChange", "EncoderOptions",
    "EncoderSettings",
    "Login", "MalformedAnswer", "SettingsChange", "MediaProfile", "NotOnvifDevice", "OnvifClient",
    "OnvifError", "ProbeError",
    "ProbeMatch", "TargetError", "WsDiscoveryProbe", "interface_address", "parse_targets",
    "split_targets",
]
