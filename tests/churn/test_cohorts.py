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
