"""One JSON encoding for every report: finite numbers or null, never NaN or "inf", with the reason beside it."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

UNDEFINED_KEY = "undefined"


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _why(value: float, reason: str) -> str:
    if math.isnan(value):
        return reason or "undefined"
    return f"{'+' if value > 0 else '-'}infinite" + (f" ({reason})" if reason else "")


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types from dataclasses, dicts, lists, numpy and pandas scalars.

    A non-finite float becomes null, and the object holding it gets an `undefined` map from field name to the
    reason (the object's own `reason` field when it has one, else "undefined" / "+infinite").
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        undefined: dict[str, str] = {}
        own_reason = obj.get("reason")
        reason = own_reason if isinstance(own_reason, str) else ""
        for key, value in obj.items():
            value = _scalar(value)
            if isinstance(value, float) and not math.isfinite(value):
                undefined[str(key)] = _why(value, reason)
                out[str(key)] = None
            else:
                out[str(key)] = to_jsonable(value)
        if undefined:
            out[UNDEFINED_KEY] = undefined
        return out
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    obj = _scalar(obj)
    if isinstance(obj, float):
        return _number(obj)
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _scalar(value: Any) -> Any:
    """numpy / pandas scalars as Python numbers; everything else unchanged."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        return value.item()
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if hasattr(value, "tolist") and callable(value.tolist) and not isinstance(value, (str, bytes)):
        return value.tolist()
    return value


def dumps(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON text (`allow_nan=False`) of any report."""
    return json.dumps(to_jsonable(obj), indent=indent, allow_nan=False)
