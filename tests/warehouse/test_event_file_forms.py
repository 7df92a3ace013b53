"""Events files beyond the plain form load inside DuckDB (warehouse/event_files.py) with the validator's values, and
the validator sees only the rows SQL cannot settle: in a bad file it names the same first bad cell as a read of the
whole file (churn/ingest.py `_read_typed`, the reference every expected message here comes from)."""
from __future__ import annotations

import itertools
import random

import pandas as pd
import pytest

from churn.ingest import _read_typed, _rules, load_events
from warehouse.engine import Warehouse
from warehouse.errors import DataError
from warehouse.event_files import CONTROL, ID_FORM, count_rows, inspect_file, load_plain_file
from warehouse.events_table import write_events

HEADER = "user_id,event_type,ts,amount,item,category,channel\n"
DATES = ["2026-01-02", "2024-02-29"]
TIMES = ["", "T10:00", " 10:00", "T23:59:59", " 00:00:00"]
FRACTIONS = ["", ".", ".5", ".999999999", ".000001"]
ZONES = ["", "Z", "+02:00", "-05:30", "+0530", "-11", "+23:59", "-00:00"]


def _timestamps() -> list[str]:
    """Every date × time × fraction × zone the SQL settles (fractions need seconds; zones need a time)."""
    forms = []
    for date, time, fraction, zone in itertools.product(DATES, TIMES, FRACTIONS, ZONES):
        if (fraction and time.count(":") < 2) or (zone and not time):
            continue
        forms.append(date + time + fraction + zone)
    return forms


AMOUNTS = ["12.50", "+5", ".5", "5.", "1e2", "1E-2", "+.5e1", "2.5E+3", "00012.50", "999999999.999999", "", "0"]
EVENT_TYPES = ["order", " order", "order\t", "\t refund "]
IDS = ["0007", "a b", "zo\u00eb-1", "\u00e9t\u00e9", "x\u00a0y", "\u4e2d\u6587", "a\"b"]


def _csv(rows: list[tuple[str, ...]]) -> str:
    return HEADER + "".join(",".join(f'"{c}"' if c and ("," in c or '"' in c) else c for c in
                                     (r[0].replace('"', '""') if '"' in r[0] else r[0], *r[1:])) + "\n"
                            for r in rows)


def _stored_by_both(tmp_path, path):
    """(SQL load result, rows it stored, rows the validator's load stores) for one file."""
    fast, slow = Warehouse(tmp_path / "fast.duckdb"), Warehouse(tmp_path / "slow.duckdb")
    result = load_plain_file(fast, path, _rules(), source=str(path), mode="replace")
    write_events(slow, [_read_typed(path)], source=str(path), fingerprint="validator")
    query = "SELECT * FROM events ORDER BY ALL"
    return result, fast.query_frame(query) if result is not None else None, slow.query_frame(query)


def test_zones_fractions_spaced_types_and_amount_forms_load_by_sql_with_the_validators_values(tmp_path):
    stamps, rows = _timestamps(), []
    for i, ts in enumerate(stamps):
        rows.append((IDS[i % len(IDS)], EVENT_TYPES[i % len(EVENT_TYPES)], ts, AMOUNTS[i % len(AMOUNTS)], "", "", "w"))
    rows.append(("r1", "rating", "2026-01-02T10:00:00.5+01:00", "4.5e0", "", "", ""))
    path = tmp_path / "events.csv"
    path.write_text(_csv(rows), encoding="utf-8")
    result, fast, slow = _stored_by_both(tmp_path, path)
    assert result is not None, "the SQL path refused a form it should settle"  # the fast path was taken
    assert result.rows_written == len(rows) == len(slow) and len(stamps) > 150
    pd.testing.assert_frame_equal(fast, slow)


def test_random_amounts_and_zoned_timestamps_agree_with_pandas(tmp_path):
    rng = random.Random(5)
    rows = []
    for _ in range(5000):
        digits = str(rng.randint(0, 10 ** rng.randint(1, 9)))
        places = rng.randint(0, 6)
        mantissa = digits + ("." + str(rng.randint(0, 10 ** places - 1)).zfill(places) if places else "")
        amount = mantissa + rng.choice(["", f"e{rng.randint(-40, 5)}", f"E+{rng.randint(0, 5)}"])
        ts = (f"20{rng.randint(10, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
              f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 10 ** 9 - 1):09d}"
              f"{rng.choice('+-')}{rng.randint(0, 23):02d}:{rng.choice(['00', '30', '45'])}")
        rows.append((f"u{rng.randint(0, 99)}", "payment", ts, amount, "", "", ""))
    path = tmp_path / "events.csv"
    path.write_text(_csv(rows))
    result, fast, slow = _stored_by_both(tmp_path, path)
    assert result is not None
    pd.testing.assert_frame_equal(fast, slow)


def test_no_id_the_sql_settles_is_one_the_validator_refuses():
    """Every character of the Basic Multilingual Plane at either end of an id, and in the middle."""
    import duckdb

    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    ids = pd.Series([f"{c}x" for c in chars] + [f"x{c}" for c in chars] + [f"x{c}x" for c in chars], dtype=object)
    conn = duckdb.connect()
    conn.register("ids", pd.DataFrame({"id": ids}))
    settled = conn.execute(f"SELECT regexp_full_match(id, '{ID_FORM}') AND NOT regexp_matches(id, '{CONTROL}') "
                           "FROM ids").df().iloc[:, 0].to_numpy()
    text = ids.astype("str")
    accepted = (text.str.strip() == text) & ~text.str.contains(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", regex=True)
    wrongly = ids[settled & ~accepted.to_numpy()]
    assert wrongly.empty, [hex(ord(s.replace("x", "") or "x")) for s in wrongly[:10]]
    assert settled.mean() > 0.95  # and it settles almost all of them


def _shop_rows(n: int, ids=lambda i: f"u{i % 997:04d}") -> list[list[str]]:
    return [[ids(i), "order" if i % 3 else "login", f"2026-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00+01:00",
             f"{i % 500}.25" if i % 3 else "", "", "", "web"] for i in range(n)]


def _write_rows(path, rows) -> None:
    with open(path, "w") as handle:
        handle.write(HEADER)
        handle.writelines(",".join(r) + "\n" for r in rows)


def _validator_message(path) -> str:
    with pytest.raises(DataError) as error:
        _read_typed(path)
    return str(error.value)


def test_the_first_bad_cell_near_the_end_of_a_large_file_is_found_by_sql(tmp_path):
    rows = _shop_rows(250_000)
    rows[249_990][3] = "-3"
    path = tmp_path / "events.csv"
    _write_rows(path, rows)
    wh = Warehouse(tmp_path / "wh.duckdb")
    counts = count_rows(wh, inspect_file(wh, path, _rules()))
    assert (counts.rows, counts.suspects) == (250_000, 1)  # the one row pandas sees
    with pytest.raises(DataError) as error:
        load_events(path, wh)
    assert str(error.value) == _validator_message(path) == (
        f"{path}, row 249991, column 'amount': negative amount -3 makes no sense "
        "(refunds and discounts are positive amounts)")
    assert not wh.has_table("events")


def test_across_slices_the_validators_rule_order_decides_which_cell_is_named(tmp_path):
    """All rows are suspects (ids ending in é), so the validator sees three slices: a bad amount in the first,
    an unknown event type (an earlier rule) in the last; a read of the whole file names the event type."""
    rows = _shop_rows(230_000, ids=lambda i: f"u{i % 997}\u00e9")
    rows[10][3] = "ten"
    rows[229_000][1] = "teleport"
    path = tmp_path / "events.csv"
    _write_rows(path, rows)
    wh = Warehouse(tmp_path / "wh.duckdb")
    load_events(_small(tmp_path), wh)
    with pytest.raises(DataError) as error:
        load_events(path, wh)
    assert str(error.value) == _validator_message(path)
    assert str(error.value).startswith(f"{path}, row 229001, column 'event_type': unknown event type 'teleport'")
    assert wh.scalar("SELECT COUNT(*) FROM events") == 2  # the failed load left the warehouse as it was


def _small(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text(HEADER + "0007,order,2026-01-02T10:00:00,12.50,sku-1,books,web\n0008,login,2026-01-03,,,,app\n")
    return path


def test_a_file_with_suspect_rows_stores_the_validators_values_and_appends_once(tmp_path):
    rows = _shop_rows(5000)
    rows[7][3], rows[4000][2] = "0.0000001", "2026-03-05T10:00:00 +01:00"  # 7 decimals, a space before the zone
    path = tmp_path / "events.csv"
    _write_rows(path, rows)
    wh, slow = Warehouse(tmp_path / "wh.duckdb"), Warehouse(tmp_path / "slow.duckdb")
    assert count_rows(wh, inspect_file(wh, path, _rules())).suspects == 2
    assert load_plain_file(wh, path, _rules(), source="x", mode="replace") is None
    first = load_events(path, wh, mode="append")
    again = load_events(path, wh, mode="append")
    assert (first.rows_written, again.rows_written, again.skipped, again.total_rows) == (5000, 0, True, 5000)
    write_events(slow, [_read_typed(path)], source=str(path), fingerprint="validator")
    query = "SELECT * FROM events ORDER BY ALL"
    pd.testing.assert_frame_equal(wh.query_frame(query), slow.query_frame(query))


@pytest.mark.parametrize("cell, column", [("", "user_id"), ("", "ts"), ("2026-02-30", "ts"), ("x\x01", "item")])
def test_null_and_odd_cells_get_the_whole_file_message(tmp_path, cell, column):
    rows = _shop_rows(3000)
    rows[2500][["user_id", "event_type", "ts", "amount", "item"].index(column)] = cell
    path = tmp_path / "events.csv"
    _write_rows(path, rows)
    with pytest.raises(DataError) as error:
        load_events(path, Warehouse(tmp_path / "wh.duckdb"))
    assert str(error.value) == _validator_message(path)
    assert f"row 2501, column '{column}'" in str(error.value)


def test_a_file_appended_before_byte_fingerprints_is_still_recognised(tmp_path):
    """Older versions read non-plain files whole and logged a hash of their content; appending that file again
    must stay a no-op (idempotent), not be refused as 'other content'."""
    from churn.ingest import fingerprint_events

    rows = _shop_rows(800)
    rows[3][2] = "2026-03-05T10:00:00+01:00"  # a zone offset: an older version read this file with pandas
    path = tmp_path / "events.csv"
    _write_rows(path, rows)
    wh = Warehouse(tmp_path / "wh.duckdb")
    load_events(path, wh, mode="append")
    legacy = fingerprint_events(_read_typed(path))
    wh.execute("UPDATE event_loads SET fingerprint = :f WHERE source = :s", {"f": legacy, "s": str(path)})
    again = load_events(path, wh, mode="append")
    assert (again.rows_written, again.skipped, again.total_rows) == (0, True, 800)
