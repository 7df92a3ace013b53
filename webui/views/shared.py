"""Helpers every blueprint uses: strict JSON, CSV downloads, the analysis options of a request."""
from __future__ import annotations

import csv
import io
import math
from typing import Any, overload

import pandas as pd
from flask import Response, abort, g, jsonify, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from common.choices import METHODS
from common.errors import WinbackError
from common.jsonable import to_jsonable
from common.spreadsheet import inert_frame
from experiments.choices import SEGMENT_COLUMNS
from experiments.definitions import Experiment, get_experiment
from experiments.errors import ExperimentError
from webui.registry import get_db
from webui.wording import for_the_page


def _frames_as_records(value: Any) -> Any:
    """Tables as lists of records, also inside results that hold one (their own to_dict says how)."""
    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="records")
    if any(isinstance(v, pd.DataFrame) for v in getattr(value, "__dict__", {}).values()) and hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _frames_as_records(v) for k, v in value.items()}
    return value


def json_response(data: Any, status: int = 200) -> Response:
    """{"ok": true, ...data} as strict JSON (tables as lists of records)."""
    response = jsonify({"ok": True, **to_jsonable(_frames_as_records(data))})
    response.status_code = status
    return response


def csv_response(rows: list[dict] | pd.DataFrame, filename: str, columns: list[str] | None = None) -> Response:
    """Rows as a CSV attachment (empty cells for undefined numbers), optionally only the given columns in order.

    Text that a spreadsheet would run as a formula (a name or rationale starting with `=`, `+`, `-`, `@`) is written
    inert, with a leading `'` (common/spreadsheet.py); numbers stay numbers.
    """
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    if columns is not None:
        frame = frame.reindex(columns=columns)
    buffer = io.StringIO()
    inert_frame(frame).to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL)
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


def request_fields() -> MultiDict:
    """The fields of a request, from a form (URL-encoded or multipart) or a JSON object body alike.

    A JSON list value is a repeated field (`"guardrails": ["a", "b"]`), other values are text as a form sends them.
    A JSON body that is not an object, or a body of another type, is a 400 (415) that says what is expected."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            abort(400, description="the JSON body must be an object of fields, e.g. {\"key\": \"wb-1\", ...}")
        fields: MultiDict[str, str] = MultiDict()
        for name, value in body.items():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, (dict, list)):
                    abort(400, description=f"field '{name}' must be text, a number or a list of them")
                fields.add(str(name), "" if item is None else
                           ("1" if item is True else "" if item is False else str(item)))
        return fields
    if request.content_length and request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        abort(415, description=f"send the fields as JSON (Content-Type: application/json) or as a form, "
                               f"not {request.mimetype or 'an untyped body'}")
    return MultiDict(request.form)


@overload
def number_field(form, name: str, label: str, default: float) -> float: ...


@overload
def number_field(form, name: str, label: str, default: None = None) -> float | None: ...


def number_field(form, name: str, label: str, default: float | None = None) -> float | None:
    """A number typed into a form field; empty gives `default`, anything else not a number is a 400 naming the field."""
    text = form.get(name, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        abort(400, description=f"{label} must be a number, got {text!r}")


def actor() -> str:
    """Who the audit log names: the logged-in user."""
    return g.user.name


def experiment_or_404(key: str) -> Experiment:
    """The experiment a page is about; an unknown key is a 404 (Not Found) with the registry's message, not a 400."""
    try:
        return get_experiment(key, get_db())
    except ExperimentError as error:
        abort(404, description=str(error))


def finite_field(form, name: str, label: str) -> float:
    """A finite number typed into a required form field; anything else is a 400 naming the field."""
    text = form.get(name, "").strip()
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        abort(400, description=f"{label} must be a number, got {text!r}")
    return value


def whole_field(form, name: str, label: str, default: int = 0) -> int:
    """A whole number ≥ 0 typed into a form field (e.g. a seed); empty gives `default`, anything else is a 400."""
    text = form.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        abort(400, description=f"{label} must be a whole number from 0 to 10^18, got {text!r}")
    return int(text)


FORM_REFUSALS = (BadRequest, WinbackError)  # bad input (400) or a service's refusal: a form page shows these


def refusal_message(error: BadRequest | WinbackError, fields: dict[str, str] | None = None) -> str:
    """What a refused form says above the form it re-renders with what was typed, instead of an error page.

    The services word their refusals for the CLI ("--budget must be ..."); `fields` maps such a leading option
    to the form's label ("the budget"), so the page names what the user can see."""
    message = (error.description or "the form could not be read") if isinstance(error, BadRequest) else str(error)
    message = for_the_page(message)
    for option, label in (fields or {}).items():
        if message.startswith(option + " "):
            return label + message[len(option):]
    return message
