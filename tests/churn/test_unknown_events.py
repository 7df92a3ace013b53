"""Rows of event types Winback does not know: refused by default (the message names --unknown-events skip), or
left out with `unknown_events="skip"`, counted per type, the same on the SQL path and the validator's path.

Real CSV and Parquet files in tmp_path, real DuckDB warehouses; expected numbers are counted from the files below.
"""
from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest
from click.testing import CliRunner

from churn.ingest import _read_typed, _rules, describe_unknown, load_events
from warehouse.engine import Warehouse
from warehouse.errors import DataError, WarehouseError
from warehouse.event_files import count_rows, inspect_file
from warehouse.events_table import write_events
from winback.cli import cli

HEADER = "user_id,event_type,ts,amount,item,category,channel\n"
# 4 known rows, 8 rows of 6 unknown types: 7 in printable ASCII with at most spaces around them (SQL skips them),
# one after a no-break space (SQL cannot tell how str.strip() reads it: the validator skips it), and one unknown
# row with a bad time (never judged).
BODY = ("0007,order,2026-01-02T10:00:00,12.50,sku-1,books,web\n"
        "0008,page_ping,2026-01-02T10:00:05,,,,web\n"
        "0008,login,2026-01-03 08:00,,,,app\n"
        "0009, wishlist_share ,2026-01-03,,,,\n"
        "0010,page_ping,not-a-date,,,,\n"
        "0011,order,2026-01-04T00:00:00+02:00,5,,,\n"
        "0012,scroll,2026-01-04,,,,\n"
        "0012,video_play,2026-01-04,,,,\n"
        "0013,Order,2026-01-05,9,,,\n"
        "0013,cart_view,2026-01-05,,,,\n"
        "0014,rating,2026-01-06,4,sku-1,books,\n"
        "0016,\u00a0scroll,2026-01-06,,,,\n")
UNKNOWN = {"page_ping": 2, "wishlist_share": 1, "scroll": 2, "video_play": 1, "Order": 1, "cart_view": 1}
KNOWN_ROWS = 4
QUERY = "SELECT * FROM events ORDER BY ALL"


def events_file(tmp_path, suffix: str, body: str = BODY):
    """The body as CSV, or as Parquet with every column text (what a shop's export of strings gives)."""
    csv = tmp_path / "events.csv"
    csv.write_text(HEADER + body)
    if suffix == "csv":
        return csv
    path = tmp_path / "events.parquet"
    pd.read_csv(csv, dtype=str, keep_default_na=False, na_values=[""]).to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_skip_leaves_unknown_rows_out_alike_on_both_paths(tmp_path, suffix):
    path = events_file(tmp_path, suffix)
    fast = Warehouse(tmp_path / "fast.duckdb")
    counts = count_rows(fast, inspect_file(fast, path, _rules(skip_unknown=True)))
    assert (counts.rows, counts.unknown, counts.suspects) == (12, 7, 1)  # SQL skips 7 itself
    result = load_events(path, fast, unknown_events="skip")
    assert result.unknown_types == UNKNOWN and result.rows_written == result.total_rows == KNOWN_ROWS
    counted = Counter()
    slow = Warehouse(tmp_path / "slow.duckdb")  # the validator's reading of the whole file
    write_events(slow, [_read_typed(path, counted)], source=str(path), fingerprint="validator")
    assert dict(counted) == UNKNOWN
    pd.testing.assert_frame_equal(fast.query_frame(QUERY), slow.query_frame(QUERY))
    frame = load_events(pd.read_csv(tmp_path / "events.csv", dtype=str), Warehouse(tmp_path / "frame.duckdb"),
                        unknown_events="skip")
    assert frame.unknown_types == UNKNOWN and frame.rows_written == KNOWN_ROWS
    assert sorted(fast.query_frame(QUERY)["user_id"]) == ["0007", "0008", "0011", "0014"]


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_refuse_is_the_default_and_names_the_option(tmp_path, suffix):
    wh = Warehouse(tmp_path / "wh.duckdb")
    load_events(events_file(tmp_path, "csv", BODY.splitlines()[0] + "\n"), wh, name="before")
    path = events_file(tmp_path, suffix)
    with pytest.raises(DataError) as refused:
        load_events(path, wh)
    assert f"{path}, row 2, column 'event_type': unknown event type 'page_ping'" in str(refused.value)
    assert "--unknown-events skip" in str(refused.value)
    assert wh.scalar("SELECT COUNT(*) FROM events") == 1


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_bad_known_row_still_refuses_with_its_file_row(tmp_path, suffix):
    wh = Warehouse(tmp_path / "wh.duckdb")
    load_events(events_file(tmp_path, "csv", BODY.splitlines()[0] + "\n"), wh, name="before")
    path = events_file(tmp_path, suffix, BODY + "0015,login,31/12/2025,,,,\n")  # file row 13
    expected = f"{path}, row 13, column 'ts': '31/12/2025' is not a timestamp"
    with pytest.raises(DataError, match=expected):
        load_events(path, wh, unknown_events="skip")
    with pytest.raises(DataError, match=expected):
        _read_typed(path, Counter())
    assert wh.scalar("SELECT COUNT(*) FROM events") == 1


def test_reloading_is_idempotent(tmp_path):
    path = events_file(tmp_path, "csv")
    wh = Warehouse(tmp_path / "wh.duckdb")
    first = load_events(path, wh, unknown_events="skip")
    table = wh.query_frame(QUERY)
    again = load_events(path, wh, unknown_events="skip")
    pd.testing.assert_frame_equal(wh.query_frame(QUERY), table)
    appended = load_events(path, wh, unknown_events="skip", mode="append")  # same source, same bytes: nothing added
    assert appended.skipped and appended.total_rows == first.total_rows == again.total_rows == KNOWN_ROWS


@pytest.mark.parametrize("body", ["0008,page_ping,2026-01-02,,,,\n0009,scroll,2026-01-02,,,,\n",
                                  "0008,\u00a0page_ping,2026-01-02,,,,\n"])
def test_a_file_of_unknown_types_only_loads_nothing(tmp_path, body):
    wh = Warehouse(tmp_path / "wh.duckdb")
    load_events(events_file(tmp_path, "csv", BODY.splitlines()[0] + "\n"), wh, name="before")
    path = tmp_path / "unknown.csv"
    path.write_text(HEADER + body)
    with pytest.raises(DataError, match="holds no event of a known type .skipped .* unknown event type"):
        load_events(path, wh, unknown_events="skip")
    assert wh.scalar("SELECT COUNT(*) FROM events") == 1


def test_a_slice_of_suspects_that_are_all_unknown(tmp_path):
    """Every suspect row is an unknown type the validator must skip: its slice comes out empty, the load goes on."""
    path = events_file(tmp_path, "csv", "0007,order,2026-01-02,1,,,\n0008,\u3000page_ping,2026-01-02,,,,\n")
    result = load_events(path, Warehouse(tmp_path / "wh.duckdb"), unknown_events="skip")
    assert result.rows_written == 1 and result.unknown_types == {"page_ping": 1}


def test_describe_unknown_names_the_five_most_common_then_the_rest():
    assert describe_unknown({"a": 1}) == "skipped 1 rows of 1 unknown event type: a 1"
    counts = {"page_ping": 1200, "scroll": 40, "b": 7, "a": 7, "c": 3, "d": 2, "e": 1}
    assert describe_unknown(counts) == ("skipped 1,260 rows of 7 unknown event types: page_ping 1,200, scroll 40, "
                                        "a 7, b 7, c 3, and 2 more types")


def test_cli_load_skips_with_one_line_and_refuses_by_default(tmp_path):
    path = events_file(tmp_path, "csv")
    wh = tmp_path / "wh.duckdb"
    runner = CliRunner()
    args = ["churn", "load", "--events", str(path), "--warehouse", str(wh), "--db", str(tmp_path / "registry.db")]
    refused = runner.invoke(cli, args)
    assert refused.exit_code == 1
    assert refused.output.startswith(f"Error: {path}, row 2, column 'event_type': unknown event type 'page_ping'")
    assert "--unknown-events skip" in refused.output
    done = runner.invoke(cli, [*args, "--unknown-events", "skip"])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        f"loaded 4 events from {path} into {wh}",
        "skipped 8 rows of 6 unknown event types: page_ping 2, scroll 2, Order 1, cart_view 1, video_play 1, "
        "and 1 more type",
    ]


def test_cli_commands_that_load_events_share_the_option(tmp_path):
    path = events_file(tmp_path, "csv")
    out = tmp_path / "features.csv"
    done = CliRunner().invoke(cli, ["churn", "features", "--events", str(path), "--unknown-events", "skip",
                                    "--as-of", "2026-01-06", "--out", str(out), "--warehouse",
                                    str(tmp_path / "wh.duckdb"), "--db", str(tmp_path / "registry.db")])
    assert done.exit_code == 0, done.output
    assert "skipped 8 rows of 6 unknown event types" in done.output
    assert len(pd.read_csv(out)) == 4  # users 0007, 0008, 0011, 0014


def test_a_file_only_the_validator_reads_skips_alike(tmp_path):
    """Integer ids in Parquet: no SQL plan, the whole file goes through the validator, with the same outcome."""
    path = tmp_path / "ints.parquet"
    pd.DataFrame({"user_id": [7, 8, 8, 9], "event_type": ["order", "page_ping", "login", " page_ping"],
                  "ts": ["2026-01-02", "2026-01-02", "2026-01-03", "2026-01-03"]}).to_parquet(path, index=False)
    wh = Warehouse(tmp_path / "wh.duckdb")
    result = load_events(path, wh, unknown_events="skip")
    assert result.unknown_types == {"page_ping": 2} and result.rows_written == 2
    assert wh.query_frame(QUERY)["event_type"].tolist() == ["order", "login"]
    with pytest.raises(DataError, match="row 2, column 'event_type': unknown event type 'page_ping'"):
        load_events(path, wh)


def test_an_unknown_choice_is_refused(tmp_path):
    with pytest.raises(WarehouseError, match="unknown_events must be one of refuse, skip, got 'ignore'"):
        load_events(events_file(tmp_path, "csv"), Warehouse(tmp_path / "wh.duckdb"), unknown_events="ignore")
