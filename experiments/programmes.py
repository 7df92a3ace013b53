"""Programmes in the registry: a win-back programme's settings, versioned and audited, and its holdout.

A programme holds a share of users out of everything, drawn by GrowthBook's hash of the user id with the
programme's own seed (`in_holdout`): a user's membership never changes, and users who appear later fall in or out
by the same hash. The send gate (`experiments.send_gate`) reads every programme's holdout, so no door and no cycle
ever sends a holdout user anything. Settings come from arguments or a TOML file (`parse_settings`), every bad key or
value named in one line.
"""
from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, get_args

import numpy as np

from experiments.assignment import hash_ids
from experiments.db import RegistryLike, audit, open_registry, transaction, utc_now
from experiments.errors import ExperimentError
from experiments.identity import check_name
from experiments.lookup import unknown_name

CycleMode = Literal["experiment", "plan"]
CYCLE_MODES: tuple[str, ...] = get_args(CycleMode)
MAX_HOLDOUT_SHARE = 0.5
PLAN_TIERS = ("high", "regular")  # the shop plan's tiers: high value is over 500 a month


@dataclass(frozen=True)
class Programme:
    """A win-back programme: its holdout, churn definition, value tiers, targets, cadence and how cycles treat users."""

    name: str
    holdout_share: float = 0.05
    seed: str = ""  # the holdout's hash seed (default: the name)
    horizon_days: int = 60  # churned = no order within this many days
    high_value_monthly: float = 500.0  # the plan's high-value cut: spend per month
    targets: dict[str, float] = field(default_factory=lambda: {"high": 0.40, "regular": 0.25})  # churn reduction
    ltv_target: float = 0.30  # relative change of customer lifetime value (spend per user over the horizon)
    cadence_days: int = 7
    budget_per_cycle: float = 0.0
    treatments: tuple[str, ...] = ()
    mode: CycleMode = "experiment"
    experiment: str | None = None  # mode experiment: the running experiment each cycle assigns into
    churn_model: str | None = None
    retrain_days: int = 28  # a cycle retrains the churn model once data this many days newer can label it; 0: never
    uplift_model: str | None = None  # mode plan: the uplift model each cycle's budget plan scores with
    plan_holdout: float = 0.1  # mode plan: the share of each plan's chosen users kept untreated (its control)
    contact_window_days: int = 30  # a user treated within this window is not enrolled again
    max_users_per_cycle: int | None = None
    flag_tier_share: float = 0.0  # > 0: each cycle flags the riskiest share of each value tier; 0: the model's rule
    value_per_retained: float = 0.0  # what one retained user is worth (finance's figure): margin and ROI; 0: unknown
    version: int = 1

    @property
    def hash_seed(self) -> str:
        return f"programme:{self.seed or self.name}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SETTINGS = tuple(f.name for f in fields(Programme) if f.name not in ("name", "version"))


def _number(key: str, value: Any, low: float, high: float, *, low_open: bool = False, whole: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ExperimentError(f"{key} must be a number, got {value!r}")
    if whole and value != int(value):
        raise ExperimentError(f"{key} must be a whole number, got {value!r}")
    if value < low or value > high or (low_open and value == low):
        bracket = "(" if low_open else "["
        raise ExperimentError(f"{key} must be in {bracket}{low:g}, {high:g}], got {value!r}")
    return float(value)


def check_programme(programme: Programme, known_treatments: Iterable[str] | None = None) -> Programme:
    """Refuse a programme whose settings no cycle can run, naming the setting and the allowed values."""
    check_name(programme.name, "programme name")
    _number("holdout_share", programme.holdout_share, 0, MAX_HOLDOUT_SHARE, low_open=True)
    _number("horizon_days", programme.horizon_days, 1, 3650, whole=True)
    _number("high_value_monthly", programme.high_value_monthly, 0, 1e12)
    _number("ltv_target", programme.ltv_target, -1, 100)
    _number("cadence_days", programme.cadence_days, 1, 365, whole=True)
    _number("budget_per_cycle", programme.budget_per_cycle, 0, 1e15)
    _number("plan_holdout", programme.plan_holdout, 0, 0.9)
    _number("contact_window_days", programme.contact_window_days, 1, 3650, whole=True)
    _number("retrain_days", programme.retrain_days, 0, 3650, whole=True)
    _number("flag_tier_share", programme.flag_tier_share, 0, 1)
    _number("value_per_retained", programme.value_per_retained, 0, 1e9)
    if programme.max_users_per_cycle is not None:
        _number("max_users_per_cycle", programme.max_users_per_cycle, 1, 1e9, whole=True)
    if not isinstance(programme.targets, dict) or set(programme.targets) - set(PLAN_TIERS):
        raise ExperimentError(f"targets must map the tiers {', '.join(PLAN_TIERS)} to a churn reduction, "
                              f"got {programme.targets!r}")
    for tier, target in programme.targets.items():
        _number(f"targets.{tier}", target, 0, 1)
    if programme.mode not in CYCLE_MODES:
        raise ExperimentError(f"mode must be one of {', '.join(CYCLE_MODES)}, got {programme.mode!r}")
    if programme.mode == "experiment" and not programme.experiment:
        raise ExperimentError("mode experiment needs experiment = the running experiment each cycle assigns into")
    if programme.mode == "plan" and not programme.uplift_model:
        raise ExperimentError("mode plan needs uplift_model = the stored uplift model each cycle's plan scores with")
    if known_treatments is not None:
        known = set(known_treatments)
        for key in programme.treatments:
            if key not in known:
                raise unknown_name("treatment", key, sorted(known))
    return programme


def parse_settings(name: str, settings: Mapping[str, Any], source: str = "settings",
                   base: Programme | None = None) -> Programme:
    """A programme from a mapping (a TOML table, or options): an unknown key is named with the closest known one."""
    unknown = [key for key in settings if key not in SETTINGS]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], SETTINGS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ExperimentError(f"{source}: unknown setting '{unknown[0]}'{hint}; settings are {', '.join(SETTINGS)}")
    values = dict(settings)
    if "treatments" in values:
        if not isinstance(values["treatments"], (list, tuple)) or not all(isinstance(t, str) for t in values["treatments"]):
            raise ExperimentError(f"{source}: treatments must be a list of treatment keys, got {values['treatments']!r}")
        values["treatments"] = tuple(values["treatments"])
    for key in ("seed", "mode", "experiment", "churn_model", "uplift_model"):
        if key in values and values[key] is not None and not isinstance(values[key], str):
            raise ExperimentError(f"{source}: {key} must be text, got {values[key]!r}")
    programme = replace(base, **values) if base is not None else Programme(name=name, **values)
    try:
        return check_programme(programme)
    except ExperimentError as error:
        raise ExperimentError(f"{source}: {error}") from None


def read_toml(path: str) -> dict[str, Any]:
    """The settings of a programme TOML file (standard library `tomllib`); a syntax error names the file."""
    import tomllib

    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ExperimentError(f"{path}: not valid TOML ({error})") from None
    except OSError as error:
        raise ExperimentError(f"{path}: cannot be read ({error.strerror})") from None


def save_programme(db: RegistryLike, programme: Programme, *, actor: str | None = None,
                   new: bool = True) -> Programme:
    """Create (`new`) or change a programme: a new version, every change in the audit log with what changed."""
    database = open_registry(db)
    treatments = [r[0] for r in database.execute("SELECT key FROM treatments")]
    check_programme(programme, treatments)
    with transaction(database) as conn:
        row = conn.execute("SELECT version, settings FROM programmes WHERE name = ?", (programme.name,)).fetchone()
        if new and row is not None:
            raise ExperimentError(f"programme '{programme.name}' already exists; change it with `programme edit`")
        if not new and row is None:
            raise unknown_name("programme", programme.name, [r[0] for r in conn.execute("SELECT name FROM programmes")])
        version = 1 if row is None else int(row[0]) + 1
        stored = replace(programme, version=version)
        settings = json.dumps(stored.to_dict())
        now = utc_now()
        if row is None:
            conn.execute("INSERT INTO programmes (name, version, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                         (programme.name, version, settings, now, now))
            detail: dict[str, Any] = stored.to_dict()
        else:
            before = json.loads(row[1])
            conn.execute("UPDATE programmes SET version = ?, settings = ?, updated_at = ? WHERE name = ?",
                         (version, settings, now, programme.name))
            detail = {k: {"from": before.get(k), "to": v} for k, v in stored.to_dict().items()
                      if before.get(k) != v and k != "version"}
        conn.execute("INSERT INTO programme_versions (name, version, settings, created_at, created_by) "
                     "VALUES (?, ?, ?, ?, ?)", (programme.name, version, settings, now, actor or ""))
        audit(conn, "create" if row is None else "edit", "programme", programme.name, json.dumps(detail), actor)
    return stored


def _programme(settings: str) -> Programme:
    values = json.loads(settings)
    values["treatments"] = tuple(values.get("treatments", ()))
    return Programme(**values)


def get_programme(db: RegistryLike, name: str) -> Programme:
    """The newest version of a programme; an unknown name lists the programmes there are."""
    database = open_registry(db)
    row = database.execute("SELECT settings FROM programmes WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise unknown_name("programme", name, [r[0] for r in database.execute("SELECT name FROM programmes")])
    return _programme(row[0])


def list_programmes(db: RegistryLike) -> list[Programme]:
    """Every programme (its newest version), by name."""
    database = open_registry(db)
    return [_programme(r[0]) for r in database.execute("SELECT settings FROM programmes ORDER BY name")]


def in_holdout(programme: Programme, user_ids: Iterable[object]) -> np.ndarray:
    """Which users are in the programme's holdout: GrowthBook's v2 hash with the programme's seed below the share."""
    ids = [str(u) for u in user_ids]
    if not ids:
        return np.zeros(0, dtype=bool)
    return hash_ids(programme.hash_seed, ids, 2) < programme.holdout_share


def holdout_ids(conn: sqlite3.Connection, user_ids: list[str]) -> set[str]:
    """Of the given users, those in any programme's holdout (what the send gate leaves out)."""
    programmes = [_programme(r[0]) for r in conn.execute("SELECT settings FROM programmes")]
    if not programmes or not user_ids:
        return set()
    ids = np.asarray(user_ids, dtype=object)
    held = np.zeros(len(ids), dtype=bool)
    for programme in programmes:
        held |= in_holdout(programme, ids)
    return set(ids[held].tolist())


def known_users(db: RegistryLike) -> list[str]:
    """Every user the registry knows (flagged in a cohort, assigned, or planned), sorted."""
    database = open_registry(db)
    return [r[0] for r in database.execute(
        "SELECT user_id FROM cohorts UNION SELECT user_id FROM assignments UNION SELECT user_id FROM plan_users "
        "ORDER BY 1")]
