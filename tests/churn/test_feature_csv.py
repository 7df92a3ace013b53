"""churn.feature_csv writes the same CSV bytes as the pandas route it replaces (history_features + to_csv)."""
from __future__ import annotations

from churn.feature_csv import write_features_csv
from churn.pipeline import history_features


def test_duckdb_csv_is_byte_identical_to_pandas(shop_warehouse, tmp_path) -> None:
    as_of = "2026-06-30"
    expected = tmp_path / "pandas.csv"
    history_features(shop_warehouse, as_of).reset_index().to_csv(expected, index=False, float_format="%.6f")
    features, users = write_features_csv(shop_warehouse, as_of, tmp_path / "duckdb.csv")
    written = (tmp_path / "duckdb.csv").read_bytes()
    assert written == expected.read_bytes()
    assert (features, users) == (len(expected.read_text().splitlines()[0].split(",")) - 1,
                                 len(expected.read_text().splitlines()) - 1)
