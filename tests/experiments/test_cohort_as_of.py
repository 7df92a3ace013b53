"""The as-of date of a cohort (migration 13): recorded by `churn flag`, accepted from a cohort file, listed by
`winback cohort list` and the overview page, and added in place to a registry written before it ("unknown")."""
from __future__ import annotations

import io
import sqlite3

import pandas as pd
import pytest
import sqlite_utils
from click.testing import CliRunner

from experiments.cohorts import list_cohorts, read_cohort, write_cohort
from experiments.db import migrate, open_registry, schema_version
from experiments.errors import ExperimentError
from experiments.schema import MIGRATIONS
from winback.cli import cli


def rows(ids, **extra) -> pd.DataFrame:
    return pd.DataFrame({"user_id": ids, "risk": 0.8, "stage": "at_risk", "tier": "regular", "reason": "price",
                         **extra})


def test_an_old_registry_gains_the_column_in_place_and_keeps_every_row(tmp_path):
    path = tmp_path / "registry.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(sqlite_utils.Database(conn), [m for m in MIGRATIONS if m[0] < 13])  # the schema before as_of
    conn.executemany("INSERT INTO cohorts (cohort_key, version, user_id, risk, stage, tier, reason, model, scored_at) "
                     "VALUES ('old', 1, ?, 0.6, 'at_risk', 'regular', 'price', 'm0', '2026-10-01T08:00:00.000000Z')",
                     [(f"u{i}",) for i in range(5)])
    conn.close()

    database = open_registry(path)  # applies 13
    assert schema_version(database) == MIGRATIONS[-1][0] >= 13
    assert "as_of" in database["cohorts"].columns_dict
    listed = list_cohorts(database)
    assert listed[["cohort_key", "version", "users", "model"]].values.tolist() == [["old", 1, 5, "m0"]]
    assert listed["as_of"].tolist() == [None]  # rows flagged before the column: unknown, not a made-up date
    assert read_cohort("old", database)["user_id"].tolist() == [f"u{i}" for i in range(5)]
    write_cohort(rows(["u9"], as_of="2026-11-20"), "old", database)  # a new version records its date
    assert list_cohorts(database)[["version", "as_of"]].values.tolist() == [[2, "2026-11-20"]]
    assert read_cohort("old", database, version=1)["as_of"].isna().all()  # version 1 stays as it was
    database.conn.close()
    result = CliRunner().invoke(cli, ["cohort", "list", "--db", str(path)])
    assert result.exit_code == 0 and "v2 " in result.output and "as of 2026-11-20  scored " in result.output


def test_a_cohort_file_may_carry_one_as_of_date(tmp_path):
    db = tmp_path / "registry.db"
    frame = pd.read_csv(io.StringIO(
        "user_id,risk,stage,tier,reason,as_of\n001,0.9,at_risk,regular,price,2026-11-20\n"
        "002,0.7,at_risk,regular,price,2026-11-20T00:00:00\n"), dtype={"user_id": str})
    assert write_cohort(frame, "from-file", db) == 2
    assert list_cohorts(db).set_index("cohort_key").loc["from-file", "as_of"] == "2026-11-20"
    write_cohort(rows(["003"]), "no-date", db)  # the column is optional
    assert list_cohorts(db).set_index("cohort_key").loc["no-date", "as_of"] is None
    blank = rows(["004", "005"], as_of=[None, None])  # a column left blank everywhere: unknown too
    write_cohort(blank, "blank", db)
    assert list_cohorts(db).set_index("cohort_key").loc["blank", "as_of"] is None


@pytest.mark.parametrize(("as_of", "message"), [
    (["2026-11-20", "tomorrow"], "cohort 'bad' row 2: as_of 'tomorrow' is not a date; use YYYY-MM-DD"),
    (["2026-11-20", "2026-11-20T13:30:00"], "cohort 'bad' row 2: as_of '2026-11-20T13:30:00' is not a date; "
                                            "use YYYY-MM-DD"),
    (["2026-11-20", "2026-11-21"], "cohort 'bad' mixes as-of dates 2026-11-20, 2026-11-21; a cohort version is "
                                   "scored for one date, so write one version per date"),
    (["2026-11-20", ""], "cohort 'bad' row 2: as_of is blank while other rows have '2026-11-20'; give every row "
                         "the date the risk was scored for, or none"),
])
def test_bad_as_of_values_are_refused_and_nothing_is_written(tmp_path, as_of, message):
    db = tmp_path / "registry.db"
    with pytest.raises(ExperimentError) as error:
        write_cohort(rows(["1", "2"], as_of=as_of), "bad", db)
    assert str(error.value) == message
    assert list_cohorts(db).empty


def test_cohort_list_prints_the_as_of_date_or_unknown(tmp_path):
    db = tmp_path / "registry.db"
    stamp = "2026-11-21T09:15:00.000000Z"
    write_cohort(rows(["001", "002"], model="m1", scored_at=stamp, as_of="2026-11-20"), "dated", db)
    write_cohort(rows(["003"], model="m1", scored_at=stamp), "undated", db)
    result = CliRunner().invoke(cli, ["cohort", "list", "--db", str(db)])
    assert result.exit_code == 0
    assert result.output == (
        "dated                    v1          2 users  mean risk 0.800  model m1  as of 2026-11-20  "
        "scored 2026-11-21T09:15:00\n"
        "undated                  v1          1 users  mean risk 0.800  model m1  as of unknown  "
        "scored 2026-11-21T09:15:00\n"
    )
