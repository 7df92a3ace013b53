"""Upgrading a registry written before the hardening migrations (10-12): its audit rows join the hash chain,
its cohorts become version 1, and its triggers are the new ones."""
from __future__ import annotations

import sqlite3

import sqlite_utils

from experiments.audit_log import verify_audit_log
from experiments.cohorts import list_cohorts, read_cohort
from experiments.db import migrate, open_registry
from experiments.schema import MIGRATIONS


def test_an_old_registry_upgrades_into_the_chain_and_versioned_cohorts(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(sqlite_utils.Database(conn), [m for m in MIGRATIONS if m[0] < 10])
    conn.executemany("INSERT INTO audit_log (at, actor, action, object_type, object_key, detail) VALUES (?, ?, ?, ?, ?, ?)",
                     [("2026-01-01T00:00:00.000000Z", "ana", "create", "treatment", f"t{i}", "{}") for i in range(3)])
    conn.executemany("INSERT INTO cohorts (cohort_key, user_id, risk, stage, tier, reason) VALUES ('c1', ?, 0.5, 'a', 'b', 'c')",
                     [(f"u{i}",) for i in range(4)])
    conn.close()

    database = open_registry(path)  # applies 10, 11 (chains the 3 old rows) and 12 (cohort versions)
    check = verify_audit_log(database)
    assert check.ok and check.rows == 3
    assert database.execute("SELECT COUNT(*) FROM audit_log WHERE row_hash IS NULL").fetchone() == (0,)
    assert list_cohorts(database)[["cohort_key", "version", "users"]].values.tolist() == [["c1", 1, 4]]
    assert read_cohort("c1", database)["user_id"].tolist() == ["u0", "u1", "u2", "u3"]
    triggers = {r[0] for r in database.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert {"audit_log_no_update", "audit_log_no_delete", "audit_log_append_only", "cohorts_frozen"} <= triggers


def test_verify_reports_json_and_the_head_hash(tmp_path):
    from click.testing import CliRunner

    from winback.cli import cli

    db = tmp_path / "r.db"
    assert CliRunner().invoke(cli, ["treatment", "add", "t", "--kind", "other", "--unit-cost", "1", "--db", str(db)]).exit_code == 0
    result = CliRunner().invoke(cli, ["audit", "verify", "--json", "--db", str(db)])
    head = sqlite3.connect(db).execute("SELECT row_hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert result.exit_code == 0 and '"ok": true' in result.output and head in result.output
