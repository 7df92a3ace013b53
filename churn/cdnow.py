"""CDNOW transactions (Fader & Hardie) as Winback events: each purchase is an `order` of its dollar value."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from churn.ingest import validate_events
from warehouse.errors import DataError

CDNOW_COLUMNS = ("customer_id", "date", "number_of_cds", "dollar_value")


def read_cdnow(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read cdnow_master.txt (whitespace-separated, header first, ids with leading zeros) as order events."""
    path = Path(path)
    if not path.exists():
        raise DataError(str(path), None, None, "file not found")
    raw = pd.read_csv(path, sep=r"\s+", dtype=str)
    missing = [c for c in CDNOW_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(str(path), None, missing[0], f"not a CDNOW file: expected columns {', '.join(CDNOW_COLUMNS)}")
    dates = pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce")
    events = pd.DataFrame({
        "user_id": raw["customer_id"],
        "event_type": "order",
        "ts": dates.dt.strftime("%Y-%m-%d").where(dates.notna(), raw["date"]),
        "amount": raw["dollar_value"],
        "item": None,
        "category": "music",
        "channel": "web",
    })
    return validate_events(events, str(path))
