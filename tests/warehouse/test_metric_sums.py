"""Warehouse-native metrics: the engine's sufficient statistics and the registry's give the same analysis.

The expected numbers are the registry path's (experiments/metrics.py on imported outcomes), with the
outcomes computed independently by numpy from the same events (window [assigned_at, +30 days), pre-period
[-30 days, assigned_at)); events sit exactly on the window edges so off-by-one windows would show.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from churn.ingest import load_events
from experiments.analysis import analyze_experiment
from experiments.db import open_registry, transaction
from experiments.errors import ExperimentError
from experiments.warehouse_metrics import EventMetric, define_event_metric, warehouse_sums
from warehouse.engine import Warehouse
from winback.cli import cli

NOW = "2026-11-25T00:00:00.000000Z"
WINDOW = 30
ARMS = (("control", None, 0.5, 1), ("coupon", "coupon", 0.5, 0))


def _events_and_truth(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Assignments (varied times), order/login events around them, and numpy's per-user metric values."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"u{i:04d}" for i in range(n)])
    arm = rng.choice(2, size=n)
    stage = rng.choice(np.array(["new", "active", "lapsing"]), size=n)
    assigned = pd.Timestamp("2026-03-01") + pd.to_timedelta(rng.integers(0, 86400 * 20, n), unit="s")
    rows = []
    edges = np.array([-31, -30, -1, 0, 1, 29, 30, 31], dtype=float)
    for i in range(n):
        k = rng.poisson(1.5 + 1.0 * arm[i])
        offsets = np.concatenate([rng.uniform(-45, 45, k), rng.choice(edges, rng.integers(0, 3))])
        for off in offsets:
            ts = assigned[i] + pd.Timedelta(seconds=round(off * 86400))
            rows.append((ids[i], "order", ts, float(rng.gamma(2.0, 20.0))))
        rows.append((ids[i], "login", assigned[i] + pd.Timedelta(days=1), 0.0))  # another type: never counted
    events = pd.DataFrame(rows, columns=["user_id", "event_type", "ts", "amount"])
    assignments = pd.DataFrame({"user_id": ids, "arm": [ARMS[a][0] for a in arm], "stage": stage,
                                "assigned_at": assigned})
    e = events[events["event_type"] == "order"].merge(assignments, on="user_id")
    off = (e["ts"] - e["assigned_at"]) / pd.Timedelta(days=1)
    post, pre = (off >= 0) & (off < WINDOW), (off >= -WINDOW) & (off < 0)
    truth = pd.DataFrame(index=ids)
    truth["retained_post"] = e[post].groupby("user_id").size().reindex(ids).notna().astype(float)
    truth["retained_pre"] = e[pre].groupby("user_id").size().reindex(ids).notna().astype(float)
    truth["revenue_post"] = e[post].groupby("user_id")["amount"].sum().reindex(ids).fillna(0.0)
    truth["revenue_pre"] = e[pre].groupby("user_id")["amount"].sum().reindex(ids).fillna(0.0)
    return events, assignments, truth


def _seed(path, assignments: pd.DataFrame, truth: pd.DataFrame) -> None:
    """One running experiment with its assignments, cohort stages and the numpy outcomes imported."""
    database = open_registry(path)
    with transaction(database) as conn:
        conn.execute("INSERT INTO treatments (key, name, kind, unit_cost, created_at) VALUES "
                     "('coupon', 'Coupon', 'coupon', 2.0, ?)", (NOW,))
        conn.executemany("INSERT INTO metrics (key, kind, higher_is_better) VALUES (?, ?, 1)",
                         [("retained", "binary"), ("revenue", "continuous")])
        conn.execute("INSERT INTO experiments (key, name, target_cohort, primary_metric, guardrail_metrics, status, "
                     "created_at) VALUES ('exp1', 'Exp 1', 'c1', 'retained', ?, 'draft', ?)",
                     (json.dumps(["revenue"]), NOW))
        conn.executemany("INSERT INTO arms (experiment_key, arm_key, position, treatment_key, weight, is_control) "
                         "VALUES ('exp1', ?, ?, ?, ?, ?)", [(k, i, t, w, c) for i, (k, t, w, c) in enumerate(ARMS)])
        conn.execute("UPDATE experiments SET status = 'running' WHERE key = 'exp1'")
        conn.executemany("INSERT INTO assignments (experiment_key, user_id, arm_key, assigned_at) VALUES ('exp1', ?, ?, ?)",
                         [(u, a, t.strftime("%Y-%m-%dT%H:%M:%S.000000Z"))
                          for u, a, t in assignments[["user_id", "arm", "assigned_at"]].itertuples(index=False)])
        conn.executemany("INSERT INTO cohorts (cohort_key, user_id, stage, tier, reason) VALUES ('c1', ?, ?, 'gold', 'price')",
                         assignments[["user_id", "stage"]].itertuples(index=False))
        rows = [(u, m, p, float(truth.at[u, f"{m}_{p}"])) for u in truth.index
                for m in ("retained", "revenue") for p in ("post", "pre")]
        conn.executemany("INSERT INTO outcomes (experiment_key, user_id, metric, period, value, observed_at) "
                         "VALUES ('exp1', ?, ?, ?, ?, ?)", [(*r, NOW) for r in rows])
    for metric, value in (("retained", "any"), ("revenue", "amount")):
        define_event_metric(EventMetric(metric, "order", value, WINDOW), path)


def assert_same(a, b, path="report"):
    """Equal structure; floats equal to 1e-9 relative (nan matches nan)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, str):
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-12), path
    else:
        assert a == b, path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("metrics")
    events, assignments, truth = _events_and_truth(600, seed=30)
    _seed(root / "registry.db", assignments, truth)
    wh = Warehouse(root / "warehouse.duckdb")
    load_events(events, wh, name="orders")
    return root, wh, truth


@pytest.mark.parametrize("options", [{}, {"cuped": True}, {"segment_by": "stage"}, {"method": "bayesian"}])
def test_duckdb_statistics_give_the_registry_analysis(world, options):
    root, wh, truth = world
    db = root / "registry.db"
    registry = analyze_experiment("exp1", db, **options).to_dict()
    engine = analyze_experiment("exp1", db, sums_source=warehouse_sums(wh), **options).to_dict()
    assert_same(registry, engine)
    assert 0.1 < truth["retained_post"].mean() < 0.9 and truth["revenue_pre"].sum() > 0  # not a vacuous world


def test_event_metrics_need_events_and_a_matching_kind(world, tmp_path):
    root, _, _ = world
    with pytest.raises(ExperimentError) as error:
        analyze_experiment("exp1", root / "registry.db", sums_source=warehouse_sums(Warehouse(tmp_path / "empty.duckdb")))
    assert str(error.value) == (f"experiment 'exp1' has event metrics (retained, revenue) but the warehouse "
                                f"{tmp_path / 'empty.duckdb'} holds no events; load them first")
    with pytest.raises(ExperimentError) as error:
        define_event_metric(EventMetric("retained", "order", "amount", 30), root / "registry.db")
    assert str(error.value) == ("metric 'retained' is binary: use value 'any' for a binary metric and 'count' "
                                "or 'amount' for a continuous one")


def test_analyze_warns_when_the_events_end_inside_the_metric_windows(world, tmp_path):
    """Events cut at 2026-04-05 leave the 30-day windows of users assigned after 2026-03-06 unfinished: they count
    as 0 where the shop simply has no data yet; analyze --engine must say so, and stay quiet on the whole world."""
    root, wh, _ = world
    db = str(root / "registry.db")
    whole = CliRunner().invoke(cli, ["analyze", "exp1", "--engine", "duckdb", "--warehouse", str(wh.path), "--db", db])
    assert whole.exit_code == 0, whole.output
    assert "warning: metric" not in whole.output
    events, assignments, _ = _events_and_truth(600, seed=30)
    cut = events[events["ts"] < pd.Timestamp("2026-04-05")]
    short = Warehouse(tmp_path / "short.duckdb")
    load_events(cut, short, name="orders")
    last = cut["ts"].max()
    n_short = int((assignments["assigned_at"].dt.floor("us") + pd.Timedelta(days=WINDOW) > last).sum())
    assert 0 < n_short < 600
    end = (assignments["assigned_at"].max() + pd.Timedelta(days=WINDOW)).date()
    result = CliRunner().invoke(cli, ["analyze", "exp1", "--engine", "duckdb", "--warehouse", str(short.path),
                                      "--db", db])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: metric")]
    assert warnings == [
        f"warning: metric '{m}' reads order events in the 30 days after assignment, but the warehouse's events end "
        f"{last.date()}: for {n_short:,} of 600 assigned users that window is not over in the data, so they count "
        f"fewer events than they will (0 when assigned after it); load events through {end}"
        for m in ("retained", "revenue")]


@pytest.mark.xdist_group("spark")
def test_spark_statistics_give_the_registry_analysis(world, spark):
    from warehouse.spark_engine import SparkWarehouse

    root, wh, _ = world
    parquet = wh.write_parquet("SELECT * FROM events", root / "events.parquet")
    db = root / "registry.db"
    spark_wh = SparkWarehouse(spark, events=parquet)
    assert_same(analyze_experiment("exp1", db, cuped=True).to_dict(),
                analyze_experiment("exp1", db, cuped=True, sums_source=warehouse_sums(spark_wh)).to_dict())
    runner = CliRunner()  # `winback analyze --engine spark` against the registry path, by segment
    registry = runner.invoke(cli, ["analyze", "exp1", "--db", str(db), "--json", "--segment", "stage"])
    engine = runner.invoke(cli, ["analyze", "exp1", "--db", str(db), "--json", "--segment", "stage",
                                 "--engine", "spark", "--events", str(parquet)])
    assert registry.exit_code == 0 and engine.exit_code == 0, engine.output
    assert_same(json.loads(registry.output), json.loads(engine.output))


def test_analyze_engine_duckdb_prints_the_registry_numbers(world):
    root, _wh, _ = world
    db = str(root / "registry.db")
    runner = CliRunner()
    registry = runner.invoke(cli, ["analyze", "exp1", "--db", db, "--json", "--cuped"])
    engine = runner.invoke(cli, ["analyze", "exp1", "--db", db, "--json", "--cuped", "--engine", "duckdb",
                                 "--warehouse", str(root / "warehouse.duckdb")])
    assert registry.exit_code == 0 and engine.exit_code == 0, engine.output
    assert_same(json.loads(registry.output), json.loads(engine.output))
    bad = runner.invoke(cli, ["warehouse", "define-metric", "retained", "--event", "teleport", "--value", "any",
                              "--window-days", "30", "--db", db])
    assert bad.exit_code == 1 and bad.output.startswith("Error: metric 'retained': unknown event type 'teleport'; ")
    good = runner.invoke(cli, ["warehouse", "define-metric", "retained", "--event", "order", "--value", "any",
                               "--window-days", "30", "--db", db])
    assert good.output == "metric retained: any of order events in the 30 days after assignment\n"
