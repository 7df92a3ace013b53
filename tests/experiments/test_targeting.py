"""Assigning cohorts behind the guard rails: opt-outs, layers, contact cap, idempotent re-runs."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from experiments.assignment import assign
from experiments.db import open_registry
from experiments.definitions import create_experiment
from experiments.errors import ExperimentError, ImportDataError
from experiments.lifecycle import start_experiment, stop_experiment
from experiments.optouts import add_opt_outs
from experiments.targeting import arm_of_users, assign_users, read_user_ids

USERS = np.array([f"{i:07d}" for i in range(5000)], dtype=object)


@pytest.fixture
def running_db(draft_db):
    start_experiment("winback-1", draft_db)
    return draft_db


def test_assignment_matches_the_pure_function_and_is_idempotent(running_db):
    first = assign_users("winback-1", USERS, db=running_db)
    assert first.newly_assigned == 5000 and first.already_assigned == 0
    stored = arm_of_users("winback-1", running_db)
    expected = np.array(["control", "coupon", "reco"])[assign(stored.user_id.to_numpy(), seed="winback-1", weights=[0.4, 0.3, 0.3])]
    assert (stored.arm_key.to_numpy() == expected).all()
    # Arm shares follow the weights (binomial sd of a share at n=5000 is < 0.007).
    shares = stored.arm_key.value_counts(normalize=True)
    assert abs(shares["control"] - 0.4) < 0.03 and abs(shares["coupon"] - 0.3) < 0.03

    again = assign_users("winback-1", np.concatenate([USERS, USERS[:10]]), db=running_db)
    assert again.newly_assigned == 0 and again.already_assigned == 5000
    assert again.arm_sizes == first.arm_sizes
    assert len(arm_of_users("winback-1", running_db)) == 5000


def test_leading_zeros_are_kept_from_csv(running_db, tmp_path):
    path = tmp_path / "cohort.csv"
    path.write_text("user_id,risk\n0000001,0.9\n0000002,0.8\n")
    ids = read_user_ids(path)
    assert list(ids) == ["0000001", "0000002"]
    assign_users("winback-1", ids, db=running_db)
    assert sorted(arm_of_users("winback-1", running_db).user_id) == ["0000001", "0000002"]


def test_cohort_file_errors_name_file_and_column(tmp_path):
    path = tmp_path / "cohort.csv"
    path.write_text("customer\n1\n")
    with pytest.raises(ImportDataError, match=r"cohort.csv, column 'user_id': missing column; the file has: customer"):
        read_user_ids(path)
    path.write_text("user_id,risk\n1,0.5\n,0.3\n")
    with pytest.raises(ImportDataError, match=r"cohort.csv, row 2, column 'user_id': empty value"):
        read_user_ids(path)


def test_target_cohort_from_the_registry(catalog_db, make_experiment):
    database = open_registry(catalog_db)
    database["cohorts"].insert_all(
        [{"cohort_key": "at-risk", "user_id": u, "risk": 0.7} for u in USERS[:300]]
    )
    create_experiment(make_experiment("from-cohort", cohort="at-risk"), catalog_db)
    start_experiment("from-cohort", catalog_db)
    assert assign_users("from-cohort", db=catalog_db).newly_assigned == 300


def test_opted_out_users_are_never_assigned(running_db):
    add_opt_outs(USERS[:100], "asked by e-mail", running_db)
    summary = assign_users("winback-1", USERS, db=running_db)
    assert summary.excluded_opt_out == 100 and summary.newly_assigned == 4900
    assert not set(USERS[:100]) & set(arm_of_users("winback-1", running_db).user_id)


def test_one_running_experiment_per_layer(running_db, make_experiment):
    assign_users("winback-1", USERS[:1000], db=running_db)
    create_experiment(make_experiment("same-layer"), running_db)
    create_experiment(make_experiment("other-layer", layer="pricing"), running_db)
    for key in ("same-layer", "other-layer"):
        start_experiment(key, running_db)
    same = assign_users("same-layer", USERS[:2000], db=running_db)
    assert same.excluded_layer == 1000 and same.newly_assigned == 1000
    assert assign_users("other-layer", USERS[:2000], db=running_db).excluded_layer == 0
    # Once the first experiment stops, its users are free for the layer again.
    stop_experiment("winback-1", running_db)
    assert assign_users("same-layer", USERS[:2000], db=running_db).newly_assigned == 1000


def test_contact_cap_counts_treatments_in_the_window(catalog_db, make_experiment):
    now = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(3):
        create_experiment(make_experiment(f"e{i}", layer=f"l{i}"), catalog_db)
        start_experiment(f"e{i}", catalog_db)
    assign_users("e0", USERS, db=catalog_db, now=now - timedelta(days=40))  # outside the window
    assign_users("e1", USERS, db=catalog_db, now=now - timedelta(days=5))
    treated_in_e1 = set(arm_of_users("e1", catalog_db).query("arm_key != 'control'").user_id)
    summary = assign_users("e2", USERS, db=catalog_db, contact_cap=1, now=now)
    assert summary.excluded_contact_cap == len(treated_in_e1)
    assert not treated_in_e1 & set(arm_of_users("e2", catalog_db).user_id)


def test_coverage_leaves_users_out(catalog_db, make_experiment):
    create_experiment(make_experiment("half", coverage=0.5), catalog_db)
    start_experiment("half", catalog_db)
    summary = assign_users("half", USERS, db=catalog_db)
    assert summary.newly_assigned + summary.outside_coverage == 5000
    assert 0.45 < summary.newly_assigned / 5000 < 0.55  # binomial sd 0.007 at n=5000


def test_only_running_experiments_take_users(draft_db):
    with pytest.raises(ExperimentError, match="experiment 'winback-1' is draft; start it before assigning users"):
        assign_users("winback-1", USERS, db=draft_db)


def test_parquet_cohorts(running_db, tmp_path):
    path = tmp_path / "cohort.parquet"
    pd.DataFrame({"user_id": ["007", "008"]}).to_parquet(path)
    assert list(read_user_ids(path)) == ["007", "008"]
