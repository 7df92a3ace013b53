"""One programme cycle, one idempotent step: new events → scores → flags → enrolment → the cycle's send list.

`run_cycle` keeps the cycle's progress in the registry (`cycles.step`: started → flagged → enrolled → finished) and
every step finds what an interrupted run already did: the churn model it retrained when the old one had grown
old (`programme.retraining`), the cohort it flagged, the users it assigned (stamped with
the cycle's own time), the plan it recorded. So a cycle killed at any point and run again finishes the same cycle,
and nobody is ever sent twice (`cycle_sends` holds each user once per programme). Enrolment goes through the same
services as the doors (`experiments.targeting.assign_users`, `uplift.plan_runs.plan_budget`), behind the send gate:
programme holdouts, opt-outs, layers and the contact window.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from churn.cohort_flags import flag_cohort
from churn.features import parse_as_of
from churn.flagging import FlagSpec
from churn.ingest import load_events
from churn.segments import TierRule
from experiments.db import RegistryLike, open_registry, transaction, utc_now
from experiments.errors import ExperimentError
from experiments.programmes import Programme, get_programme, in_holdout
from experiments.targeting import assign_users
from programme.retraining import churn_model_for_cycle
from warehouse.engine import Warehouse, open_warehouse

STEPS = ("started", "flagged", "enrolled", "finished")


@dataclass(frozen=True)
class CycleResult:
    """What a cycle did: its number and date, users flagged and enrolled, the send list, and what it skipped."""

    programme: str
    number: int
    as_of: str
    flagged: int
    candidates: int
    sent: int
    left_out: dict[str, int] = field(default_factory=dict)
    events_loaded: int = 0
    files_skipped: int = 0
    enrolled_into: str | None = None
    already_finished: bool = False
    send_list: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    churn_model: dict[str, object] = field(default_factory=dict)  # the model flagged with; retrained_from when new
    late_events: int = 0  # events loaded now but dated before the previous cycle's date (accepted, counted)
    late_before: str | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["send_list"] = self.send_list.to_dict(orient="records")
        return out


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cycle_row(conn, name: str, as_of: str) -> dict | None:
    row = conn.execute("SELECT number, stamp, step, cohort_key, cohort_version, enrolled_into, summary, inputs "
                       "FROM cycles WHERE programme = ? AND as_of = ?", (name, as_of)).fetchone()
    if row is None:
        return None
    keys = ("number", "stamp", "step", "cohort_key", "cohort_version", "enrolled_into", "summary", "inputs")
    out = dict(zip(keys, row))
    out["summary"], out["inputs"] = json.loads(out["summary"]), json.loads(out["inputs"])
    return out


def _begin(db: RegistryLike, programme: Programme, as_of: str) -> dict:
    """The cycle of this date: the one an interrupted run began, or a new one after the last cycle's date."""
    database = open_registry(db)
    with transaction(database) as conn:
        row = _cycle_row(conn, programme.name, as_of)
        if row is not None:
            return row
        last = conn.execute("SELECT MAX(number), MAX(as_of) FROM cycles WHERE programme = ?",
                            (programme.name,)).fetchone()
        if last[1] is not None and as_of <= last[1]:
            raise ExperimentError(f"programme '{programme.name}': a cycle as of {as_of} comes before or on the last "
                                  f"cycle's date {last[1]}; cycles move forward in time")
        number, now = int(last[0] or 0) + 1, utc_now()
        conn.execute("INSERT INTO cycles (programme, number, as_of, stamp, step, started_at) VALUES (?, ?, ?, ?, ?, ?)",
                     (programme.name, number, as_of, now, "started", now))
        return _cycle_row(conn, programme.name, as_of) or {}


def _update(db: RegistryLike, name: str, number: int, **values: object) -> None:
    database = open_registry(db)
    columns = ", ".join(f"{k} = ?" for k in values)
    encoded = [json.dumps(v) if isinstance(v, (dict, list)) else v for v in values.values()]
    with transaction(database) as conn:
        conn.execute(f"UPDATE cycles SET {columns} WHERE programme = ? AND number = ?", (*encoded, name, number))


def _load_new_events(db: RegistryLike, programme: Programme, cycle: dict, events: list[str],
                     wh: Warehouse) -> tuple[int, int]:
    """Append event files no cycle of the programme loaded before (by content hash); returns (rows, files skipped)."""
    database = open_registry(db)
    seen = {h for (inputs,) in database.execute("SELECT inputs FROM cycles WHERE programme = ?", (programme.name,))
            for h in json.loads(inputs).get("event_files", {}).values()}
    loaded, skipped = 0, 0
    files = dict(cycle["inputs"].get("event_files", {}))
    previous = database.execute("SELECT MAX(as_of) FROM cycles WHERE programme = ? AND number < ?",
                                (programme.name, cycle["number"])).fetchone()[0]
    for path in events:
        digest = _sha256(path)
        if digest in seen or digest in files.values():
            skipped += 1
            continue
        before = _events_before(wh, previous)
        loaded += load_events(path, wh, name=path, mode="append").rows_written
        late = _events_before(wh, previous) - before
        if late:
            cycle["summary"] = {**cycle["summary"], "late_events": int(cycle["summary"].get("late_events", 0)) + late,
                                "late_before": previous}
            _update(db, programme.name, cycle["number"], summary=cycle["summary"])
        files[os.path.basename(path)] = digest
        _update(db, programme.name, cycle["number"], inputs={**cycle["inputs"], "event_files": files})
        cycle["inputs"] = {**cycle["inputs"], "event_files": files}
    return loaded, skipped


def _flag_spec(programme: Programme) -> FlagSpec:
    """The programme's flag rule: the riskiest share of each value tier, or the churn model's precision rule."""
    if programme.flag_tier_share > 0:
        return FlagSpec(rule="tier-share", tier_share=programme.flag_tier_share, max_users=programme.max_users_per_cycle)
    return FlagSpec(max_users=programme.max_users_per_cycle)


def _events_before(wh: Warehouse, day: str | None) -> int:
    """Events dated before `day` (none when there is no earlier cycle): what a late file adds to the past."""
    if day is None or not wh.has_table("events"):
        return 0
    return int(wh.query_frame("SELECT COUNT(*) AS n FROM events WHERE ts < CAST(:day AS TIMESTAMP)",
                              {"day": day})["n"].iloc[0])


def _candidates(db: RegistryLike, programme: Programme, cycle: dict) -> tuple[list[str], int]:
    """The users this cycle flagged who were never enrolled by an earlier cycle and are not in the programme's
    holdout, and how many holdout users this cycle flagged for the first time (each is counted once)."""
    database = open_registry(db)
    flagged = [r[0] for r in database.execute(
        "SELECT c.user_id FROM cohorts c WHERE c.cohort_key = ? AND c.version = ? AND c.user_id NOT IN "
        "(SELECT user_id FROM cycle_sends WHERE programme = ? AND number < ?) ORDER BY c.risk DESC, c.user_id",
        (cycle["cohort_key"], cycle["cohort_version"], programme.name, cycle["number"]))]
    held = in_holdout(programme, flagged)
    seen = {r[0] for r in database.execute(
        "SELECT c.user_id FROM cycles y JOIN cohorts c ON c.cohort_key = y.cohort_key AND c.version = y.cohort_version "
        "WHERE y.programme = ? AND y.number < ?", (programme.name, cycle["number"]))}
    users = pd.Series(flagged, dtype=object)
    new_held = int((held & ~users.isin(seen).to_numpy()).sum())
    return users[~held].tolist(), new_held


def _enrol(db: str | os.PathLike[str] | None, programme: Programme, cycle: dict, candidates: list[str]) -> tuple[str, dict[str, int]]:
    """Assign the candidates into the programme's experiment, or plan them within the cycle's budget."""
    stamp = datetime.fromisoformat(cycle["stamp"].replace("Z", "+00:00"))
    if programme.mode == "experiment":
        if programme.experiment is None:
            raise ExperimentError(f"programme '{programme.name}' assigns into an experiment but names none")
        from experiments.bandit_weights import update_bandit_weights  # a bandit's next weight period (else nothing)

        update_bandit_weights(db, programme.experiment, now=stamp, actor=f"cycle {cycle['number']}")
        summary = assign_users(programme.experiment, candidates, db=db, contact_cap=1,
                               cap_window_days=programme.contact_window_days, now=stamp, actor=f"cycle {cycle['number']}")
        left = {"opt_out": summary.excluded_opt_out, "holdout": summary.excluded_holdout,
                "layer": summary.excluded_layer, "cap": summary.excluded_contact_cap,
                "coverage": summary.outside_coverage}
        return programme.experiment, {k: v for k, v in left.items() if v}
    from uplift.cohort_scores import score_cohort
    from uplift.plan_runs import plan_budget

    key = f"{programme.name}-c{cycle['number']}"
    database = open_registry(db)
    if database.execute("SELECT 1 FROM plans WHERE key = ?", (key,)).fetchone():
        return key, dict(cycle["summary"].get("left_out", {}))  # recorded before an interruption: keep it
    if programme.uplift_model is None:
        raise ExperimentError(f"programme '{programme.name}' plans with an uplift model but names none")
    scored = score_cohort(programme.uplift_model, cycle["cohort_key"], db=db)
    scores = _allowed_scores(programme, scored.scores)
    scores = scores[scores["user_id"].isin(set(candidates))].reset_index(drop=True)
    if scores.empty:
        return key, {}
    run = plan_budget(db, scores, budget=programme.budget_per_cycle, holdout=programme.plan_holdout,
                      seed=cycle["number"], model=programme.uplift_model, key=key, frontier=False,
                      actor=f"cycle {cycle['number']}")
    return key, dict(run.screening.left_out)


def _allowed_scores(programme: Programme, scores: pd.DataFrame) -> pd.DataFrame:
    """The uplift scores of the treatments the programme allows (all of them when it names none)."""
    if not programme.treatments:
        return scores
    allowed = set(programme.treatments)
    scored = [c for c in scores.columns if c != "user_id" and not c.startswith("se:")]
    drop = [c for c in scores.columns if c != "user_id" and c.removeprefix("se:") not in allowed]
    if not set(scored) & allowed:
        raise ExperimentError(f"programme '{programme.name}' allows {', '.join(sorted(allowed))}, but uplift model "
                              f"'{programme.uplift_model}' scores only {', '.join(scored)}")
    return scores.drop(columns=drop)


def check_allowed_treatments(db: RegistryLike, programme: Programme) -> None:
    """Refuse a cycle whose experiment gives a treatment the programme does not allow (it names none: any)."""
    if programme.mode != "experiment" or not programme.treatments or not programme.experiment:
        return
    given = [r[0] for r in open_registry(db).execute(
        "SELECT treatment_key FROM arms WHERE experiment_key = ? AND treatment_key IS NOT NULL ORDER BY arm_key",
        (programme.experiment,))]
    extra = sorted(set(given) - set(programme.treatments))
    if extra:
        raise ExperimentError(f"experiment '{programme.experiment}' gives {', '.join(extra)}, which programme "
                              f"'{programme.name}' does not allow (allowed: {', '.join(programme.treatments)}); "
                              "change the programme's treatments or the experiment")


def _record_sends(db: RegistryLike, programme: Programme, cycle: dict, candidates: list[str]) -> int:
    """The cycle's send list, stored once per user: the users it newly assigned (its stamp) or planned."""
    database = open_registry(db)
    with transaction(database) as conn:
        if programme.mode == "experiment":
            conn.execute(
                "INSERT OR IGNORE INTO cycle_sends (programme, number, user_id, arm_key, treatment_key) "
                "SELECT ?, ?, a.user_id, a.arm_key, r.treatment_key FROM assignments a JOIN arms r "
                "ON r.experiment_key = a.experiment_key AND r.arm_key = a.arm_key "
                "WHERE a.experiment_key = ? AND a.assigned_at = ? AND a.user_id IN (SELECT value FROM json_each(?))",
                (programme.name, cycle["number"], cycle["enrolled_into"],
                 datetime.fromisoformat(cycle["stamp"].replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                 json.dumps(candidates)))
        else:
            conn.execute(
                "INSERT OR IGNORE INTO cycle_sends (programme, number, user_id, arm_key, treatment_key) "
                "SELECT ?, ?, user_id, arm_key, treatment_key FROM plan_users WHERE plan_key = ?",
                (programme.name, cycle["number"], cycle["enrolled_into"]))
        return int(conn.execute("SELECT COUNT(*) FROM cycle_sends WHERE programme = ? AND number = ?",
                                (programme.name, cycle["number"])).fetchone()[0])


def send_list(db: RegistryLike, name: str, number: int) -> pd.DataFrame:
    """user_id, arm, treatment_key of the users a cycle sent to (the CRM's file), in user order."""
    database = open_registry(db)
    return pd.read_sql_query("SELECT user_id, arm_key AS arm, treatment_key FROM cycle_sends "
                             "WHERE programme = ? AND number = ? ORDER BY user_id", database.conn,
                             params=(name, number), dtype={"user_id": str})


def run_cycle(db: str | os.PathLike[str] | None, name: str, as_of: str, *, events: list[str] | tuple[str, ...] = (),
              warehouse: str | os.PathLike[str] | Warehouse | None = None, out: str | None = None,
              progress: bool = False) -> CycleResult:
    """Run (or finish) the programme's cycle as of `as_of`; a finished cycle is left as it is."""
    programme = get_programme(db, name)
    day = str(parse_as_of(as_of).date())
    check_allowed_treatments(db, programme)  # before the cycle's row: a refused cycle writes nothing
    cycle = _begin(db, programme, day)
    if cycle["step"] == "finished":
        sent = send_list(db, name, cycle["number"])
        _write(sent, out)
        return CycleResult(name, cycle["number"], day, int(cycle["summary"].get("flagged", 0)),
                           int(cycle["summary"].get("candidates", 0)), len(sent), cycle["summary"].get("left_out", {}),
                           enrolled_into=cycle["enrolled_into"], already_finished=True, send_list=sent,
                           churn_model=_model_part(cycle["summary"]))
    if not programme.churn_model:
        raise ExperimentError(f"programme '{name}' has no churn_model to flag users with; set it with "
                              "`programme edit --churn-model NAME`")
    bar = tqdm(total=4, desc=f"cycle {cycle['number']}", unit="step", disable=not progress)
    wh = open_warehouse(warehouse, db)
    loaded, skipped = _load_new_events(db, programme, cycle, list(events), wh)
    bar.update()
    flagged = int(cycle["summary"].get("flagged", 0))
    if cycle["step"] == "started":
        programme, model = churn_model_for_cycle(db, programme, cycle["number"], pd.Timestamp(day), wh,
                                                 progress=progress)
        key = f"{name}-flagged"
        result = flag_cohort(model.name, day, key, db, warehouse=wh,
                             spec=_flag_spec(programme),
                             tiers=TierRule(basis="monthly", high_value_monthly=programme.high_value_monthly),
                             clv=None)  # the plan's tiers are monthly spend: no BG/NBD fit (it may not converge)
        version = open_registry(db).execute("SELECT MAX(version) FROM cohorts WHERE cohort_key = ?", (key,)).fetchone()[0]
        flagged = result.n_flagged
        cycle.update(step="flagged", cohort_key=key, cohort_version=version,
                     summary={**cycle["summary"], "flagged": flagged, **model.to_dict()})
        _update(db, name, cycle["number"], step="flagged", cohort_key=key, cohort_version=version,
                summary=cycle["summary"])
    bar.update()
    candidates, new_held = _candidates(db, programme, cycle)
    if cycle["step"] == "flagged":
        enrolled_into, left_out = _enrol(db, programme, cycle, candidates) if candidates else (None, {})
        if new_held:
            left_out = {"holdout": new_held + left_out.get("holdout", 0),
                        **{k: v for k, v in left_out.items() if k != "holdout"}}
        plan_model = {"uplift_model": programme.uplift_model} if programme.mode == "plan" else {}
        cycle.update(step="enrolled", enrolled_into=enrolled_into,
                     summary={**cycle["summary"], "candidates": len(candidates), "left_out": left_out, **plan_model})
        _update(db, name, cycle["number"], step="enrolled", enrolled_into=enrolled_into, summary=cycle["summary"])
    bar.update()
    sent_n = _record_sends(db, programme, cycle, candidates) if cycle["enrolled_into"] else 0
    if programme.mode == "experiment" and cycle["enrolled_into"]:
        from experiments.snapshots import take_snapshot  # the pages read snapshots: show this cycle's users

        take_snapshot(open_registry(db), cycle["enrolled_into"], actor=f"cycle {cycle['number']}")
    summary = {**cycle["summary"], "sent": sent_n, "events_loaded": loaded}
    _update(db, name, cycle["number"], step="finished", summary=summary, finished_at=utc_now())
    bar.update()
    bar.close()
    sent = send_list(db, name, cycle["number"])
    _write(sent, out)
    return CycleResult(name, cycle["number"], day, flagged, int(summary.get("candidates", 0)), len(sent),
                       summary.get("left_out", {}), loaded, skipped, cycle["enrolled_into"], False, sent,
                       _model_part(summary), int(summary.get("late_events", 0)), summary.get("late_before"))


def _model_part(summary: dict) -> dict[str, object]:
    return {k: v for k, v in summary.items() if k.startswith(("churn_model", "retrained"))}


def _write(sent: pd.DataFrame, out: str | None) -> None:
    if out:
        from common.spreadsheet import inert_frame

        Path(out).parent.mkdir(parents=True, exist_ok=True)
        inert_frame(sent).to_csv(out, index=False)


def list_cycles(db: RegistryLike, name: str) -> list[dict]:
    """Every cycle of a programme, oldest first: number, date, step and its counts."""
    database = open_registry(db)
    rows = database.execute("SELECT number, as_of, step, enrolled_into, summary, started_at, finished_at FROM cycles "
                            "WHERE programme = ? ORDER BY number", (name,)).fetchall()
    return [{"number": r[0], "as_of": r[1], "step": r[2], "enrolled_into": r[3], **json.loads(r[4]),
             "started_at": r[5], "finished_at": r[6]} for r in rows]
