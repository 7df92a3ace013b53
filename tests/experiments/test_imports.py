"""Imports lose nothing: validation with file/row/column errors, one transaction per file, idempotence,
concurrent writers and a writer killed mid-import."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments.catalog import Metric, save_metric
from experiments.db import open_registry
from experiments.errors import ImportDataError
from experiments.imports import import_deliveries, import_outcomes
from experiments.lifecycle import start_experiment
from experiments.targeting import arm_of_users, assign_users

USERS = [f"{i:06d}" for i in range(2000)]


@pytest.fixture
def assigned_db(draft_db):
    start_experiment("winback-1", draft_db)
    assign_users("winback-1", USERS, db=draft_db)
    return draft_db


def outcomes_frame(users=USERS, metric="retained") -> pd.DataFrame:
    return pd.DataFrame({"experiment_key": "winback-1", "user_id": users, "metric": metric,
                         "value": [i % 2 for i in range(len(users))], "observed_at": "2026-11-20T00:00:00Z"})


def write(tmp_path: Path, name: str, frame: pd.DataFrame) -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False) if path.suffix == ".csv" else frame.to_parquet(path, index=False)
    return path


def table_rows(db, table: str) -> list[tuple]:
    return open_registry(db).execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4").fetchall()


def test_outcomes_import_is_idempotent(assigned_db, tmp_path):
    path = write(tmp_path, "outcomes.csv", outcomes_frame())
    first = import_outcomes(path, assigned_db)
    assert (first.rows_read, first.inserted, first.unchanged) == (2000, 2000, 0)
    second = import_outcomes(path, assigned_db)
    assert (second.inserted, second.unchanged) == (0, 2000)
    assert len(table_rows(assigned_db, "outcomes")) == 2000


def test_parquet_and_pre_period_rows(assigned_db, tmp_path):
    frame = outcomes_frame(metric="revenue").assign(period="pre", value=12.5)
    import_outcomes(write(tmp_path, "pre.parquet", frame), assigned_db)
    rows = open_registry(assigned_db).execute("SELECT DISTINCT period, value FROM outcomes").fetchall()
    assert rows == [("pre", 12.5)]


def test_pre_period_values_must_predate_the_assignment(assigned_db, tmp_path):
    assigned_at = open_registry(assigned_db).execute("SELECT MIN(assigned_at) FROM assignments").fetchone()[0]
    late = outcomes_frame(metric="revenue").assign(period="pre", observed_at="2099-01-01T00:00:00Z")
    with pytest.raises(ImportDataError) as error:
        import_outcomes(write(tmp_path, "late.csv", late), assigned_db)
    assert str(error.value) == (
        f"{tmp_path}/late.csv, row 1, column 'observed_at': pre-period value observed at "
        f"2099-01-01T00:00:00.000000Z is after the user's assignment at {assigned_at}"
    )
    undated = outcomes_frame(metric="revenue").assign(period="pre").drop(columns="observed_at")
    with pytest.raises(ImportDataError, match="row 1, column 'observed_at': a pre-period value needs observed_at"):
        import_outcomes(write(tmp_path, "undated.csv", undated), assigned_db)
    assert table_rows(assigned_db, "outcomes") == []


def test_deliveries_import(assigned_db, tmp_path):
    arms = arm_of_users("winback-1", assigned_db)
    coupon_users = arms.query("arm_key == 'coupon'").user_id
    frame = pd.DataFrame({"experiment_key": "winback-1", "user_id": coupon_users, "treatment_key": "coupon_10",
                          "sent_at": "2026-11-02 09:00", "cost": 8.0, "channel": "email"})
    summary = import_deliveries(write(tmp_path, "deliveries.csv", frame), assigned_db)
    assert summary.inserted == len(coupon_users)
    sent = open_registry(assigned_db).execute("SELECT DISTINCT sent_at FROM deliveries").fetchall()
    assert sent == [("2026-11-02T09:00:00.000000Z",)]
    assert import_deliveries(tmp_path / "deliveries.csv", assigned_db).inserted == 0
    # The same deliveries with only the required columns (no channel) are already present, not a clash.
    bare = import_deliveries(write(tmp_path, "bare.csv", frame.drop(columns="channel")), assigned_db)
    assert (bare.inserted, bare.unchanged) == (0, len(coupon_users))
    assert open_registry(assigned_db).execute("SELECT DISTINCT channel FROM deliveries").fetchall() == [("email",)]
    # A channel that differs is still a clash, and a stored blank shows as such, not as Python's None.
    with pytest.raises(ImportDataError, match="row 1, column 'channel': duplicate key with a different value: "
                                              "the registry has 'email', the file has 'sms'"):
        import_deliveries(write(tmp_path, "sms.csv", frame.assign(channel="sms")), assigned_db)
    later = frame.assign(sent_at="2026-11-09 09:00").drop(columns="channel")
    import_deliveries(write(tmp_path, "later.csv", later), assigned_db)
    with pytest.raises(ImportDataError, match="the registry has '\\(blank\\)', the file has 'push'"):
        import_deliveries(write(tmp_path, "push.csv", later.assign(channel="push")), assigned_db)
    assert len(table_rows(assigned_db, "deliveries")) == 2 * len(coupon_users)


BAD_OUTCOMES = [
    ("missing column", lambda f: f.drop(columns="metric"),
     "bad.csv, column 'metric': missing required column; the file has: experiment_key, user_id, value, observed_at"),
    ("unknown experiment", lambda f: f.assign(experiment_key=["winback-1"] * 5 + ["nope"] + ["winback-1"] * 1994),
     "bad.csv, row 6, column 'experiment_key': unknown experiment 'nope'"),
    ("unassigned user", lambda f: f.assign(user_id=USERS[:9] + ["stranger"] + USERS[10:]),
     "bad.csv, row 10, column 'user_id': user 'stranger' is not assigned in experiment 'winback-1'"),
    ("non-numeric", lambda f: f.assign(value=[0] * 41 + ["yes"] + [0] * 1958),
     "bad.csv, row 42, column 'value': not a number: 'yes'"),
    ("bad timestamp", lambda f: f.assign(observed_at=["2026-11-20"] * 7 + ["last tuesday"] + ["2026-11-20"] * 1992),
     "bad.csv, row 8, column 'observed_at': not an ISO-8601 timestamp: 'last tuesday'"),
    ("bad period", lambda f: f.assign(period=["post"] * 3 + ["during"] + ["post"] * 1996),
     "bad.csv, row 4, column 'period': 'during' is not one of pre, post"),
    ("binary metric, not 0 or 1", lambda f: f.assign(value=[0] * 12 + [7] + [0] * 1987),
     "bad.csv, row 13, column 'value': metric 'retained' is binary: a value must be 0 or 1 (yes or no), got 7"),
    ("duplicate key, other value", lambda f: pd.concat([f, f.iloc[[3]].assign(value=7)]),
     "bad.csv, row 2001, column 'value': duplicate key {'experiment_key': 'winback-1', 'user_id': '000003', "
     "'metric': 'retained', 'period': 'post'} with a different value than row 4"),
]


@pytest.mark.parametrize("case, corrupt, message", BAD_OUTCOMES, ids=[c[0] for c in BAD_OUTCOMES])
def test_bad_outcome_files_are_rejected_whole(assigned_db, tmp_path, case, corrupt, message):
    before = table_rows(assigned_db, "outcomes")
    path = write(tmp_path, "bad.csv", corrupt(outcomes_frame()))
    with pytest.raises(ImportDataError) as error:
        import_outcomes(path, assigned_db)
    assert str(error.value) == f"{tmp_path}/{message}"
    assert table_rows(assigned_db, "outcomes") == before


def test_clash_with_the_registry_is_rejected_and_nothing_written(assigned_db, tmp_path):
    import_outcomes(write(tmp_path, "first.csv", outcomes_frame()[:10]), assigned_db)
    changed = outcomes_frame().assign(value=[1] + [i % 2 for i in range(1, 2000)])  # row 1 was 0
    before = table_rows(assigned_db, "outcomes")
    with pytest.raises(ImportDataError) as error:
        import_outcomes(write(tmp_path, "second.csv", changed), assigned_db)
    assert str(error.value) == (
        f"{tmp_path}/second.csv, row 1, column 'value': duplicate key with a different value: "
        "the registry has '0.0', the file has '1.0'; an import never changes stored rows: to replace them, "
        "`winback import undo 1` first"  # import 1 wrote the stored row
    )
    assert table_rows(assigned_db, "outcomes") == before


def test_bad_deliveries(assigned_db, tmp_path):
    user = arm_of_users("winback-1", assigned_db).user_id[0]
    frame = pd.DataFrame({"experiment_key": ["winback-1"], "user_id": [user], "treatment_key": ["vip_care"],
                          "sent_at": ["2026-11-02"], "cost": ["25"]})
    with pytest.raises(ImportDataError, match="row 1, column 'treatment_key': treatment 'vip_care' is not given by any arm of experiment 'winback-1'"):
        import_deliveries(write(tmp_path, "d.csv", frame), assigned_db)
    with pytest.raises(ImportDataError, match=r"d.csv, row 1, column 'cost': must be >= 0, got -8"):
        import_deliveries(write(tmp_path, "d.csv", frame.assign(treatment_key="coupon_10", cost="-8")), assigned_db)
    assert table_rows(assigned_db, "deliveries") == []


def test_missing_file(assigned_db, tmp_path):
    with pytest.raises(ImportDataError, match=r"nope.csv: file not found"):
        import_outcomes(tmp_path / "nope.csv", assigned_db)


IMPORT_SCRIPT = "import sys; from experiments.imports import import_outcomes; import_outcomes(sys.argv[1], sys.argv[2])"


def test_four_processes_importing_at_once_lose_no_row(assigned_db, tmp_path):
    metrics = ["retained", "revenue", "unsubscribed", "orders"]
    save_metric(Metric("orders", "continuous"), assigned_db)
    paths = [write(tmp_path, f"{m}.csv", outcomes_frame(metric=m)) for m in metrics]
    workers = [subprocess.Popen([sys.executable, "-c", IMPORT_SCRIPT, str(p), str(assigned_db)]) for p in paths]
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0, 0]
    counts = open_registry(assigned_db).execute("SELECT metric, COUNT(*) FROM outcomes GROUP BY metric").fetchall()
    assert dict(counts) == {m: 2000 for m in metrics}


def test_a_process_killed_mid_import_leaves_nothing_behind(assigned_db, tmp_path):
    big = pd.concat([outcomes_frame(metric=f"m{i}") for i in range(150)])  # 300k rows: several seconds
    for i in range(150):
        save_metric(Metric(f"m{i}", "continuous"), assigned_db)
    path = write(tmp_path, "big.csv", big)
    worker = subprocess.Popen([sys.executable, "-c", IMPORT_SCRIPT, str(path), str(assigned_db)])
    wal = Path(f"{assigned_db}-wal")
    deadline = time.monotonic() + 60
    # Kill once the write transaction has started spilling into the WAL (rows are being written).
    while time.monotonic() < deadline and worker.poll() is None:
        if wal.exists() and wal.stat().st_size > 2_000_000:
            break
        time.sleep(0.01)
    assert worker.poll() is None, "the import finished before it could be killed; make the file bigger"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    database = open_registry(assigned_db)
    assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert database.execute("SELECT COUNT(*) FROM outcomes").fetchone() == (0,)
    # The same file imports completely afterwards.
    assert import_outcomes(path, assigned_db).inserted == 300_000
