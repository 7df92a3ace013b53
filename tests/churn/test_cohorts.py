"""Cohorts in the registry: replaced as a whole, read back with ids as text, clear errors."""
from __future__ import annotations

import pandas as pd
import pytest

from experiments.cohorts import list_cohorts, read_cohort, write_cohort
from experiments.errors import ExperimentError


def rows(ids, risk):
    return pd.DataFrame({"user_id": ids, "risk": risk, "stage": "at_risk", "tier": "regular", "reason": "unknown"})


def test_write_replaces_and_read_keeps_leading_zeros(tmp_path):
    db = tmp_path / "registry.db"
    assert write_cohort(rows(["001", "002", "003"], [0.9, 0.5, 0.7]), "c1", db) == 3
    write_cohort(rows(["004"], [0.2]), "c2", db)
    write_cohort(rows(["002", "005"], [0.6, 0.8]), "c1", db)
    cohort = read_cohort("c1", db)
    assert cohort["user_id"].tolist() == ["005", "002"]  # highest risk first; the old rows are gone
    assert list_cohorts(db)[["cohort_key", "users"]].values.tolist() == [["c1", 2], ["c2", 1]]


def test_errors_name_the_problem(tmp_path):
    db = tmp_path / "registry.db"
    write_cohort(rows(["1"], [0.5]), "known", db)
    with pytest.raises(ExperimentError) as error:
        read_cohort("missing", db)
    assert str(error.value) == "cohort 'missing' is empty or unknown; known cohorts: known"
    with pytest.raises(ExperimentError) as error:
        write_cohort(rows(["1", "1"], [0.1, 0.2]), "dup", db)
    assert str(error.value) == "user '1' appears twice in cohort 'dup'"
    with pytest.raises(ExperimentError) as error:
        write_cohort(pd.DataFrame({"user_id": ["1"], "risk": [0.2]}), "thin", db)
    assert str(error.value) == "cohort frame lacks column(s): stage, tier, reason"


def test_a_reflagged_cohort_counts_only_its_newest_version_in_plan_and_breakdown(tmp_path):
    from click.testing import CliRunner

    from experiments.catalog import Metric, save_metric
    from experiments.cohort_summary import risk_breakdown
    from experiments.db import open_registry
    from winback.cli import cli

    db = tmp_path / "registry.db"
    save_metric(Metric("retained", "binary"), db)
    write_cohort(rows([f"{i:03d}" for i in range(200)], [0.9] * 200), "small", db)  # v1: 200 users
    write_cohort(rows([f"{i:03d}" for i in range(150)], [0.8] * 150), "small", db)  # v2: 150 users
    result = CliRunner().invoke(cli, ["plan", "--metric", "retained", "--baseline", "0.3", "--cohort", "small",
                                      "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[2].startswith("Cohort small: 150 users can detect ")  # was 350 (v1 + v2)
    stages = risk_breakdown(open_registry(db), "small").query("dimension == 'stage'")
    assert stages[["value", "users"]].values.tolist() == [["at_risk", 150]]
    assert stages["mean_risk"].iloc[0] == pytest.approx(0.8)


def test_health_checks_the_cohort_version_the_experiment_started_with(tmp_path):
    from experiments.catalog import Metric, Treatment, save_metric, save_treatment
    from experiments.db import open_registry
    from experiments.definitions import Arm, Experiment, create_experiment
    from experiments.health import health_checks
    from experiments.lifecycle import start_experiment
    from experiments.targeting import assign_users

    db = tmp_path / "registry.db"
    save_treatment(Treatment("coupon", "Coupon", "coupon", 2.0), db)
    save_metric(Metric("retained", "binary"), db)
    write_cohort(rows(["001", "002"], [0.9, 0.8]), "c1", db)  # v1
    create_experiment(Experiment(key="e", name="E", primary_metric="retained", target_cohort="c1",
                                 arms=(Arm("control", None, 0.5, True), Arm("coupon", "coupon", 0.5))), db)
    start_experiment("e", db)  # pinned to v1
    write_cohort(rows(["001", "003"], [0.9, 0.7]), "c1", db)  # v2 adds 003
    summary = assign_users("e", ["001", "002", "003"], db=db)
    assert summary.outside_cohort == 1  # 003 is only in v2; the segments put it in "(none)"
    check = next(c for c in health_checks(open_registry(db), "e").checks if c.title == "Outside the target cohort")
    assert (check.status, check.count) == ("warn", 1)
