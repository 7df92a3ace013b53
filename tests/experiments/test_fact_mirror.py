"""The fact mirror (experiments/fact_mirror.py) gives the registry's own numbers, and notices every change.

Expected numbers come from the same SQL run on SQLite itself (`facts="registry"`, the path every earlier test
checked against numpy and published references): the mirror must agree to 1e-12 on moments, costs, counts,
health checks, segments, CUPED and the cumulative effect by day.
"""
from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pytest
from seeded_registry import seed_registry

from experiments.analysis import analyze_experiment
from experiments.db import open_registry, transaction
from experiments.fact_mirror import FactMirror, mirror_folder
from experiments.fact_source import MirrorFacts, RegistryFacts, open_facts
from experiments.health import health_checks
from experiments.metrics import BY_DAY, collect
from experiments.timeline import cumulative_by_day


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    path = tmp_path / "r.db"
    seed_registry(path)
    return path


def _close(a: object, b: object, path: str = "") -> None:
    """Equal structures, floats to 1e-12 relative (nan equal to nan)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-300), path
    else:
        assert a == b, path


def test_the_mirror_is_used_and_lives_beside_the_registry(seeded: Path) -> None:
    database = open_registry(seeded)
    with open_facts(database.conn) as source:
        assert isinstance(source, MirrorFacts)
    with open_facts(database.conn, "registry") as source:
        assert isinstance(source, RegistryFacts)
    assert (mirror_folder(seeded) / "manifest.json").exists()


@pytest.mark.parametrize("segment_by", [None, "stage", BY_DAY])
@pytest.mark.parametrize("pre_period", [False, True])
def test_collect_matches_the_registry(seeded: Path, segment_by, pre_period: bool) -> None:
    registry = collect("exp1", seeded, segment_by=segment_by, pre_period=pre_period, facts="registry")
    mirror = collect("exp1", seeded, segment_by=segment_by, pre_period=pre_period, facts="mirror")
    _close(registry.counts, mirror.counts)
    _close(registry.costs, mirror.costs)
    assert registry.cost_sources == mirror.cost_sources and registry.opted_out == mirror.opted_out
    assert registry.measured == mirror.measured and registry.segments == mirror.segments
    for key, moments in registry.moments.items():
        _close(moments.__dict__, mirror.moments[key].__dict__, str(key))


@pytest.mark.parametrize("options", [{}, {"cuped": True}, {"segment_by": "stage"}, {"method": "bayesian"},
                                     {"method": "sequential", "relative": False}])
def test_reports_health_and_by_day_match_the_registry(seeded: Path, options: dict, monkeypatch) -> None:
    reports, health, days = [], [], []
    for mode in ("registry", "mirror"):
        monkeypatch.setenv("WINBACK_FACTS", mode)
        reports.append(analyze_experiment("exp1", seeded, value_per_retained=50.0, **options).to_dict())
        health.append(health_checks(seeded, "exp1").to_dict())
        days.append(cumulative_by_day(seeded, "exp1").to_dict(orient="records"))
    _close(*reports)
    _close(*health)
    _close(*days)


def _report(path: Path) -> dict:
    return analyze_experiment("exp1", path, cuped=True, value_per_retained=50.0).to_dict()


def test_new_rows_are_appended_and_deletes_rebuild(seeded: Path) -> None:
    before = _report(seeded)
    database = open_registry(seeded)
    with transaction(database) as conn:
        conn.execute("INSERT INTO outcomes (experiment_key, user_id, metric, period, value, observed_at) "
                     "SELECT experiment_key, user_id, 'retained', 'post', 1.0, observed_at FROM outcomes "
                     "WHERE metric = 'unsubscribed' AND user_id NOT IN "
                     "(SELECT user_id FROM outcomes WHERE metric = 'retained')")
    segments = len(list(mirror_folder(seeded).glob("outcomes-*.parquet")))
    changed = _report(seeded)
    assert len(list(mirror_folder(seeded).glob("outcomes-*.parquet"))) == segments + 1  # appended, not rebuilt
    assert changed != before
    _close(changed, analyze_experiment("exp1", seeded, cuped=True, value_per_retained=50.0, facts="registry").to_dict())
    with transaction(database) as conn:
        conn.execute("DELETE FROM outcomes WHERE rowid > (SELECT MAX(rowid) FROM outcomes) - 5")
    _close(_report(seeded), analyze_experiment("exp1", seeded, cuped=True, value_per_retained=50.0,
                                               facts="registry").to_dict())


def test_updates_and_replaced_rows_are_noticed(seeded: Path) -> None:
    _report(seeded)
    database = open_registry(seeded)
    with transaction(database) as conn:
        conn.execute("UPDATE outcomes SET value = value * 2 WHERE metric = 'revenue'")
    _close(_report(seeded), analyze_experiment("exp1", seeded, cuped=True, value_per_retained=50.0,
                                               facts="registry").to_dict())
    # Same row count, same highest rowid: a delete of the last row and an insert that reuses its rowid.
    with transaction(database) as conn:
        row = conn.execute("SELECT rowid, experiment_key, user_id, metric, period, value, observed_at FROM outcomes "
                           "ORDER BY rowid DESC LIMIT 1").fetchone()
        conn.execute("DELETE FROM outcomes WHERE rowid = ?", (row[0],))
        conn.execute("INSERT INTO outcomes (rowid, experiment_key, user_id, metric, period, value, observed_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", (row[0], *row[1:5], row[5] + 1000.0, row[6]))
    _close(_report(seeded), analyze_experiment("exp1", seeded, cuped=True, value_per_retained=50.0,
                                               facts="registry").to_dict())


def test_a_dropped_trigger_or_another_registry_falls_back_or_rebuilds(seeded: Path, tmp_path: Path) -> None:
    _report(seeded)
    conn = sqlite3.connect(seeded)
    conn.execute("DROP TRIGGER outcomes_fact_update")
    conn.commit()
    conn.close()
    database = open_registry(seeded)  # opening the registry puts the trigger back
    with open_facts(database.conn) as source:
        assert isinstance(source, MirrorFacts)
    other = tmp_path / "other" / "r.db"
    other.parent.mkdir()
    seed_registry(other, n=500, seed=9)
    mirror_folder(other).mkdir()
    for file in mirror_folder(seeded).iterdir():  # a mirror copied from another registry is rebuilt
        (mirror_folder(other) / file.name).write_bytes(file.read_bytes())
    _close(_report(other), analyze_experiment("exp1", other, cuped=True, value_per_retained=50.0,
                                              facts="registry").to_dict())


def test_an_in_memory_registry_reads_sqlite(tmp_path: Path) -> None:
    with open_facts(sqlite3.connect(":memory:")) as source:
        assert isinstance(source, RegistryFacts)
    assert FactMirror(tmp_path / "r.db").folder == tmp_path / "r-facts"


def test_import_and_undo_keep_the_mirror_in_step_and_undo_restores_exactly(seeded: Path, tmp_path: Path) -> None:
    from common.jsonable import to_jsonable
    from experiments.imports import import_outcomes, undo_import

    before = json.dumps(to_jsonable(_report(seeded)))
    database = open_registry(seeded)
    users = [r[0] for r in database.execute(
        "SELECT user_id FROM assignments WHERE user_id NOT IN (SELECT user_id FROM outcomes WHERE metric = 'retained') "
        "ORDER BY user_id LIMIT 60")]
    csv = tmp_path / "more.csv"
    csv.write_text("experiment_key,user_id,metric,value,observed_at\n"
                   + "".join(f"exp1,{u},retained,1,2026-12-01T00:00:00Z\n" for u in users))
    summary = import_outcomes(csv, seeded)
    manifest = json.loads((mirror_folder(seeded) / "manifest.json").read_text())["tables"]["outcomes"]
    assert manifest["watermark"] == database.execute("SELECT MAX(rowid) FROM outcomes").fetchone()[0]  # at import
    assert json.dumps(to_jsonable(_report(seeded))) != before
    undo_import(int(summary.import_id or 0), seeded)
    manifest = json.loads((mirror_folder(seeded) / "manifest.json").read_text())["tables"]["outcomes"]
    epoch = database.execute("SELECT epoch FROM fact_epochs WHERE table_name = 'outcomes'").fetchone()[0]
    assert manifest["epoch"] == epoch and manifest["rows"] == database.execute(
        "SELECT COUNT(*) FROM outcomes").fetchone()[0]  # the batch dropped from the mirror, no rebuild needed
    assert json.dumps(to_jsonable(_report(seeded))) == before


def _health_and_report(path: Path, mode: str) -> tuple[dict, dict]:
    return (health_checks(path, "exp1", facts=mode).to_dict(),
            analyze_experiment("exp1", path, cuped=True, value_per_retained=50.0, facts=mode).to_dict())


def test_rows_copied_before_their_user_was_assigned_are_matched_again(seeded: Path) -> None:
    """Outcome and delivery rows carry their user's arm in the mirror; a row copied while its user had no assignment
    (the seed's 'stranger') is matched again once the user is assigned."""
    _close(_health_and_report(seeded, "mirror"), _health_and_report(seeded, "registry"))
    database = open_registry(seeded)
    with transaction(database) as conn:
        conn.execute("INSERT INTO assignments VALUES ('exp1', 'stranger', 'email', '2026-11-26T00:00:00.000000Z')")
        conn.execute("INSERT INTO deliveries (experiment_key, user_id, treatment_key, sent_at, cost) "
                     "VALUES ('exp1', 'stranger', 'email', '2026-11-27T00:00:00Z', 0.1)")
    mirrored = _health_and_report(seeded, "mirror")
    _close(mirrored, _health_and_report(seeded, "registry"))
    early = next(c for c in mirrored[0]["checks"] if c["name"] == "outcome_before_assignment")
    assert early["count"] == 1  # its outcome predates the assignment, as the mirror now knows
    manifest = json.loads((mirror_folder(seeded) / "manifest.json").read_text())["tables"]
    assert manifest["outcomes"]["unmatched"] == 0 and manifest["deliveries"]["unmatched"] == 0


def test_undoing_a_users_first_send_counts_the_later_one(seeded: Path, tmp_path: Path) -> None:
    """A user sent the same treatment twice is one delivered user; undoing the batch with the first send leaves the
    second one counted (the mirror's `repeat_send` is not left pointing at the removed row)."""
    from experiments.import_batches import undo_import
    from experiments.imports import import_deliveries

    database = open_registry(seeded)
    users = [r[0] for r in database.execute(
        "SELECT user_id FROM assignments WHERE arm_key = 'email' ORDER BY user_id LIMIT 40")]
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    header = "experiment_key,user_id,treatment_key,sent_at,cost\n"
    first.write_text(header + "".join(f"exp1,{u},email,2026-11-26T00:00:00Z,0.1\n" for u in users))
    second.write_text(header + "".join(f"exp1,{u},email,2026-11-27T00:00:00Z,0.1\n" for u in users[:25]))
    batch = import_deliveries(first, seeded)
    import_deliveries(second, seeded)
    _close(_health_and_report(seeded, "mirror"), _health_and_report(seeded, "registry"))
    undo_import(int(batch.import_id or 0), seeded)
    mirrored = _health_and_report(seeded, "mirror")
    _close(mirrored, _health_and_report(seeded, "registry"))
    rates = next(c for c in mirrored[0]["checks"] if c["name"] == "undelivered")["detail"]["delivery_rate"]
    email_users = database.execute("SELECT COUNT(*) FROM assignments WHERE arm_key = 'email'").fetchone()[0]
    assert rates["email"] == pytest.approx(25 / email_users)


def test_a_row_below_rowid_one_is_noticed(seeded: Path) -> None:
    """The mirror counts only the rows above its watermark while the registry's rowids are 1..W; a row inserted
    with rowid 0 ends that, and the table is counted (and rebuilt)."""
    _report(seeded)
    database = open_registry(seeded)
    with transaction(database) as conn:
        user = conn.execute("SELECT user_id FROM assignments WHERE user_id NOT IN "
                            "(SELECT user_id FROM outcomes WHERE metric = 'retained') LIMIT 1").fetchone()[0]
        conn.execute("INSERT INTO outcomes (rowid, experiment_key, user_id, metric, period, value, observed_at) "
                     "VALUES (0, 'exp1', ?, 'retained', 'post', 1.0, '2026-12-01T00:00:00Z')", (user,))
    _close(_report(seeded), analyze_experiment("exp1", seeded, cuped=True, value_per_retained=50.0,
                                               facts="registry").to_dict())


def test_the_child_copy_streams_row_groups_and_equals_the_in_process_copy(seeded: Path, tmp_path: Path) -> None:
    # A large range is copied by a child process reading ADBC's record batches into row groups one at a time (a
    # 100M-row first build read at once needed more than 20 GB); what it writes equals the in-process copy.
    import subprocess
    import sys

    import pyarrow.parquet as pq

    from experiments.fact_copy import copy_rows

    conn = sqlite3.connect(seeded)
    total = conn.execute("SELECT MAX(rowid) FROM outcomes").fetchone()[0]
    copy_rows(conn, seeded, "outcomes", 0, total, tmp_path / "inline.parquet", expected=total)  # below the child's size
    conn.close()
    subprocess.run([sys.executable, "-m", "experiments.fact_copy", str(seeded), "outcomes", "0", str(total),
                    str(tmp_path / "child.parquet"), "50"], check=True, capture_output=True, text=True)
    inline, child = pq.read_table(tmp_path / "inline.parquet"), pq.read_table(tmp_path / "child.parquet")
    assert pq.ParquetFile(tmp_path / "child.parquet").num_row_groups >= total // 1024
    assert child.num_rows == inline.num_rows == total > 1_000 and child.schema == inline.schema
    assert child.equals(inline)
