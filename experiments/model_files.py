"""Model files on disk, trusted only as the registry recorded them.

A model is written (joblib) to `<model folder>/<kind>-<name>.joblib` through a temporary file and an atomic
rename; its SHA-256 goes into the registry with the rest of its record. Loading re-checks, *before* anything
is unpickled, that the recorded path lies inside the model folder (symlinks resolved) under the file name the
rule gives, and that the file's SHA-256 is the recorded one: a replaced or planted pickle is refused, never run.
The file is read once and the hashed bytes are the ones unpickled, so there is no window between check and load.
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import joblib

from common.settings import ENV_MODEL_DIR, env, resolve_model_dir
from experiments.errors import ExperimentError
from experiments.identity import check_name
from experiments.models import ModelKind, ModelRecord

CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def model_file_path(kind: ModelKind, name: str, model_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where model `name` of `kind` lives: `<folder>/<kind>-<name>.joblib` (the name rule keeps it inside)."""
    check_name(name, "model name")
    return resolve_model_dir(model_dir).resolve() / f"{kind}-{name}.joblib"


def dump_model_file(obj: Any, kind: ModelKind, name: str,
                    model_dir: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """Write a fitted model atomically; returns its absolute path and SHA-256 for the registry record."""
    path = model_file_path(kind, name, model_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        joblib.dump(obj, temporary)
        digest = file_sha256(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path, digest


def load_model_file(record: ModelRecord, model_dir: str | os.PathLike[str] | None = None) -> Any:
    """Unpickle a model's file only after its place and SHA-256 match the registry record.

    The folder is `model_dir`, else $WINBACK_MODEL_DIR when set, else the folder the record names; in every
    case the file must be that folder's `<kind>-<name>.joblib` and no symlink may lead out of it.
    """
    recorded = Path(record.path)
    folder = resolve_model_dir(model_dir) if model_dir is not None or _env_folder_set() else recorded.parent
    expected = folder.resolve() / f"{record.kind}-{check_name(record.name, 'model name')}.joblib"
    where = f"model '{record.name}'"
    if not recorded.is_absolute() or Path(os.path.abspath(recorded)) != expected:
        raise ExperimentError(f"{where}: its recorded file {record.path} is not {expected}, the only place a "
                              f"{record.kind} model of that name may be loaded from; fit it again")
    if not recorded.exists():
        raise ExperimentError(f"{where}: model file {record.path} is missing; fit it again")
    if recorded.resolve() != expected:
        raise ExperimentError(f"{where}: model file {record.path} is a link to {recorded.resolve()}, outside the "
                              "model folder; refused")
    if not recorded.is_file():  # a folder, a pipe (reading it would hang) or a device at the model's path
        raise ExperimentError(f"{where}: {record.path} is not a regular file; fit the model again")
    if not record.sha256:
        raise ExperimentError(f"{where}: the registry holds no SHA-256 of {record.path} (saved before hashes were "
                              "recorded), so the file cannot be trusted; fit it again")
    # One read: the bytes that are hashed are the bytes that are unpickled, so a file swapped or rewritten
    # between the check and the load (a race on a shared folder) can never slip in unchecked.
    data = recorded.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != record.sha256:
        raise ExperimentError(f"{where}: model file {record.path} has SHA-256 {actual[:12]}..., not the "
                              f"{record.sha256[:12]}... recorded when it was saved; the file was changed or "
                              "replaced, so it is not loaded (fit the model again)")
    return joblib.load(io.BytesIO(data))


def _env_folder_set() -> bool:
    """Whether $WINBACK_MODEL_DIR names the model folder."""
    return env(ENV_MODEL_DIR) is not None
