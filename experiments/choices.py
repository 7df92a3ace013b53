"""The registry's closed choices, declared once: the CLI and the web UI read them from here."""
from __future__ import annotations

from typing import Literal, get_args

Status = Literal["draft", "running", "stopped", "concluded"]
STATUSES: tuple[str, ...] = get_args(Status)
TreatmentKind = Literal["coupon", "vip_service", "recommendation", "care_content", "other"]
TREATMENT_KINDS: tuple[str, ...] = get_args(TreatmentKind)
MetricKind = Literal["binary", "continuous"]
METRIC_KINDS: tuple[str, ...] = get_args(MetricKind)
SegmentBy = Literal["stage", "tier", "reason"]
SEGMENT_COLUMNS: tuple[str, ...] = get_args(SegmentBy)
Role = Literal["growth", "finance", "strategy", "admin"]  # web UI users: who may do what (webui/auth.py)
ROLES: tuple[str, ...] = get_args(Role)
ImportKind = Literal["deliveries", "outcomes"]
IMPORT_KINDS: tuple[str, ...] = get_args(ImportKind)

DEFAULT_CONTACT_CAP = 3  # treatments (non-control arms) a user may get within the window
DEFAULT_CAP_WINDOW_DAYS = 30
MIN_CONTACT_CAP, MAX_CONTACT_CAP = 1, 1000  # bounds of --contact-cap
MIN_CAP_WINDOW_DAYS, MAX_CAP_WINDOW_DAYS = 1, 3650  # bounds of --cap-window-days (0 or less would switch the cap off)
