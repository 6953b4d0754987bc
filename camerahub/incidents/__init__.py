"""Log alerts, incidents, holds and grants (report 4 (2) ウ)."""

from .errors import IncidentError
from .notify import Notifier
from .queries import IncidentParts, incident_for, incident_parts, visible_incidents
from .schemas import AlertIn, ManualIncidentIn, TransitionIn, Window
from .service import IncidentService, IntakeResult, room_cameras, room_managers

__all__ = ["AlertIn", "IncidentError", "IncidentParts", "IncidentService", "IntakeResult",
           "ManualIncidentIn", "Notifier", "TransitionIn", "Window", "incident_for",
           "incident_parts", "room_cameras", "room_managers", "visible_incidents"]
