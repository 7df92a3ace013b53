"""The data page: deliveries and outcomes uploaded like `winback import` (preview, the same validation, undo)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from experiments.choices import IMPORT_KINDS
from experiments.imports import SPECS, ImportSummary, import_file, list_imports, undo_import
from webui import uploads
from webui.auth import requires
from webui.registry import get_db
from webui.views.shared import FORM_REFUSALS, actor, refusal_message, request_fields, whole_field

bp = Blueprint("data", __name__)


def imports_data() -> dict[str, Any]:
    """Every import batch, newest first, and the columns each kind of file needs."""
    specs = {kind: {"required": list(SPECS[kind].required), "optional": list(SPECS[kind].optional)}
             for kind in IMPORT_KINDS}
    return {"batches": list_imports(get_db()), "specs": specs}


def _kind(fields) -> str:
    kind = fields.get("kind", "")
    if kind not in IMPORT_KINDS:
        abort(400, description=f"the kind of file must be one of {', '.join(IMPORT_KINDS)}, got {kind!r}")
    return kind


def preview_upload(fields, upload) -> tuple[str, str, ImportSummary]:
    """Keep the upload and check it as its import would, writing nothing; returns (token, file name, what it would do)."""
    kind = _kind(fields)
    token, name = uploads.keep(upload, kind)
    try:
        return token, name, import_file(uploads.path_of(token), SPECS[kind], get_db(), actor(), source=name,
                                        preview=True)
    except BaseException:
        uploads.discard(token)
        raise


def confirm_upload(fields) -> ImportSummary:
    """Import a previewed upload (named by its token) in one transaction, as one undoable batch."""
    kind = _kind(fields)
    token = fields.get("token", "")
    summary = import_file(uploads.path_of(token), SPECS[kind], get_db(), actor(), source=fields.get("name") or kind)
    uploads.discard(token)
    return summary


@bp.route("/data", methods=["GET", "POST"])
@requires()
def data() -> Any:
    preview, status = None, 200
    if request.method == "POST":
        try:
            preview = _post()
        except FORM_REFUSALS as error:
            flash(refusal_message(error), "error")
            status = 400
        if preview is None and status == 200:
            return redirect(url_for("data.data"))
    return render_template("data.html", preview=preview, **imports_data()), status


@requires("import")
def _post() -> dict[str, Any] | None:
    fields = request_fields()
    action = fields.get("action", "preview")
    if action == "import":
        summary = confirm_upload(fields)
        flash(f"Imported {summary.path}: {summary.rows_read:,} rows read, {summary.inserted:,} new, "
              f"{summary.unchanged:,} already present (batch #{summary.import_id}).", "ok")
        for note in summary.notes:
            flash(note, "note")
        return None
    if action == "undo":
        batch = undo_import(whole_field(fields, "batch", "the import batch"), get_db(), actor=actor())
        flash(f"Import #{batch.id} ({batch.kind} from {batch.source}) is undone: its rows are removed.", "ok")
        return None
    token, name, summary = preview_upload(fields, request.files.get("file"))
    return {"token": token, "name": name, "kind": _kind(fields), "summary": summary}


def import_now(fields, upload) -> ImportSummary:
    """The API's one-step import (or, with preview=1, the check alone): a multipart `file` and its `kind`."""
    token, name, preview = preview_upload(fields, upload)
    if fields.get("preview", "") in ("1", "true", "yes", "on"):
        uploads.discard(token)
        return preview
    summary = import_file(uploads.path_of(token), SPECS[_kind(fields)], get_db(), actor(), source=name)
    uploads.discard(token)
    return summary
