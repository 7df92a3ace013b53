"""Helpers every blueprint uses: strict JSON, CSV downloads, the analysis options of a request."""
from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, is_dataclass
from typing import Any

import pandas as pd
from flask import Response, abort, g, jsonify, request

from experiments.metrics import SEGMENT_COLUMNS
from stats.comparison import METHODS


def jsonable(value: Any) -> Any:
    """Dataclasses, DataFrames and numpy scalars to plain JSON; non-finite numbers to null."""
    if is_dataclass(value) and not isinstance(value, type):
        value = value.to_dict() if hasattr(value, "to_dict") else asdict(value)
    if isinstance(value, pd.DataFrame):
        value = value.to_dict(orient="records")
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def json_response(data: Any, status: int = 200) -> Response:
    response = jsonify({"ok": True, **jsonable(data)})
    response.status_code = status
    return response


def csv_response(rows: list[dict] | pd.DataFrame, filename: str) -> Response:
    """Rows as a CSV attachment (empty cells for undefined numbers)."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in filename)
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"'})


def analysis_options() -> dict[str, Any]:
    """method, cuped and segment_by from the query string (or form), each checked against its closed list."""
    source = request.values
    method = source.get("method", "ttest")
    if method not in METHODS:
        abort(400, description=f"method must be one of {', '.join(METHODS)}, got {method!r}")
    segment = source.get("segment") or None
    if segment is not None and segment not in SEGMENT_COLUMNS:
        abort(400, description=f"segment must be one of {', '.join(SEGMENT_COLUMNS)}, got {segment!r}")
    cuped = source.get("cuped", "") in ("1", "on", "true", "yes")
    return {"method": method, "cuped": cuped, "segment_by": segment}


def actor() -> str:
    """Who the audit log names: the logged-in user."""
    return g.user.name
