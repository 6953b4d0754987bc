"""Log alerts, incidents, holds and grants (report 4 (2) ウ)."""

from .notify import Notifier
from .schemas import AlertIn, ManualIncidentIn, TransitionIn, Window
from .service import IncidentError, IncidentService, IntakeResult, room_cameras, room_managers

__all__ = ["AlertIn", "IncidentError", "IncidentService", "IntakeResult", "ManualIncidentIn",
           "Notifier", "TransitionIn", "Window", "room_cameras", "room_managers"]
