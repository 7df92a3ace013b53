"""Fuzz every CLI input with generated bad files: exit code 1, one `Error:` line, no traceback, nothing written.

The inputs are events (`churn load`), deliveries and outcomes (`import`), users (`experiment assign --users`),
opt-outs (`optout add --file`), uplift data (`uplift fit` and `uplift score`), scores and costs (`allocate`).
Each kind's valid table is shown to be accepted first (on a copy of the registry), so every refusal below is
caused by the one thing the generator broke (tests/fuzz_files.py). Calls run in-process through CliRunner.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fuzz_files import InputKind, bad_files, bad_json_files, csv_bytes

from winback.cli import cli

USERS = [f"u{i}" for i in range(1, 41)]
N_UPLIFT = 240


def _uplift_rows() -> list[dict[str, str]]:
    rng = np.random.default_rng(3)
    arm = np.where(np.arange(N_UPLIFT) % 3 == 0, "none", np.where(np.arange(N_UPLIFT) % 3 == 1, "coupon", "call"))
    x = rng.random(N_UPLIFT)
    kept = (rng.random(N_UPLIFT) < 0.3 + 0.2 * (arm != "none") * (x > 0.5)).astype(int)
    return [{"uid": f"{i:05d}", "x": f"{x[i]:.4f}", "arm": arm[i], "kept": str(kept[i])} for i in range(N_UPLIFT)]


KINDS = {
    "events": InputKind(
        "events",
        [{"user_id": u, "event_type": t, "ts": f"2026-0{m}-1{d}T10:00:00", "amount": a, "item": "i1",
          "category": "c1", "channel": "web"}
         for u in ("a1", "a2", "a3") for m, d, t, a in ((3, 1, "order", "25.5"), (5, 2, "login", "0"))],
        ids=("user_id",), numbers=("amount",), times=("ts",), required=("user_id", "event_type", "ts")),
    "deliveries": InputKind(
        "deliveries",
        [{"experiment_key": "e1", "user_id": u, "treatment_key": "coupon", "sent_at": "2026-11-20T09:00:00Z",
          "cost": "2.5", "channel": "email"} for u in USERS[:4]],
        ids=("experiment_key", "user_id", "treatment_key"), numbers=("cost",), times=("sent_at",),
        required=("experiment_key", "user_id", "treatment_key", "sent_at", "cost")),
    "outcomes": InputKind(
        "outcomes",
        [{"experiment_key": "e1", "user_id": u, "metric": "retained", "value": str(i % 2), "period": "post",
          "observed_at": "2026-11-21T00:00:00Z"} for i, u in enumerate(USERS[:4])],
        ids=("experiment_key", "user_id", "metric"), numbers=("value",), times=("observed_at",),
        required=("experiment_key", "user_id", "metric", "value")),
    "users": InputKind("users", [{"user_id": f"n{i}", "source": "crm"} for i in range(4)], ids=("user_id",),
                       required=("user_id",)),
    "optouts": InputKind("optouts", [{"user_id": u, "source": "crm"} for u in USERS[:4]], ids=("user_id",),
                         required=("user_id",)),
    "uplift_fit": InputKind("uplift_fit", _uplift_rows(), ids=("uid",), numbers=("x", "kept"),
                            required=("uid", "x", "arm", "kept")),
    "uplift_score": InputKind("uplift_score", [{"uid": r["uid"], "x": r["x"]} for r in _uplift_rows()[:6]],
                              ids=("uid",), numbers=("x",), required=("uid", "x")),
    "scores": InputKind("scores", [{"user_id": f"s{i}", "coupon": f"0.0{i}", "call": f"0.1{i}"} for i in range(4)],
                        ids=("user_id",), numbers=("coupon", "call"), required=("user_id",), parquet=False),
}


def command(kind: str, path: Path, root: Path, out: Path) -> list[str]:
    """The CLI call that reads a file of `kind` (writing to `out` where it writes)."""
    db = ["--db", str(root / "registry.db")]
    return {
        "events": ["churn", "load", "--events", str(path), *db],
        "deliveries": ["import", "deliveries", str(path), *db],
        "outcomes": ["import", "outcomes", str(path), *db],
        "users": ["experiment", "assign", "e1", "--users", str(path), *db],
        "optouts": ["optout", "add", "--file", str(path), *db],
        "uplift_fit": ["uplift", "fit", "--data", str(path), "--treatment", "arm", "--outcome", "kept", "--control",
                       "none", "--id", "uid", "--name", "fz2", "--learner", "s", "--model-dir", str(root / "models"),
                       *db],
        "uplift_score": ["uplift", "score", "--model", "fz", "--data", str(path), "--id", "uid", "--out", str(out), *db],
        "scores": ["allocate", "--scores", str(path), "--costs", str(root / "costs.json"), "--budget", "100",
                   "--out", str(out), *db],
        "costs": ["allocate", "--scores", str(root / "scores.csv"), "--costs", str(path), "--budget", "100",
                  "--out", str(out), *db],
    }[kind]


def invoke(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=True)


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A registry with a running experiment e1 (40 users assigned), loaded events and a stored uplift model."""
    root = tmp_path_factory.mktemp("fuzz")
    db = ["--db", str(root / "registry.db")]
    steps = [
        ["treatment", "add", "coupon", "--kind", "coupon", "--unit-cost", "2", *db],
        ["treatment", "add", "call", "--kind", "vip_service", "--unit-cost", "5", *db],
        ["metric", "add", "retained", "--kind", "binary", *db],
        ["experiment", "create", "e1", "--name", "E1", "--primary-metric", "retained", "--arm", "control:-:0.4",
         "--arm", "coupon:coupon:0.3", "--arm", "call:call:0.3", *db],
        ["experiment", "start", "e1", *db],
    ]
    for step in steps:
        assert invoke(step).exit_code == 0, step
    users = write(root / "users0.csv", csv_bytes(["user_id"], [[u] for u in USERS]))
    assert invoke(["experiment", "assign", "e1", "--users", str(users), *db]).exit_code == 0
    events = write(root / "events0.csv", csv_bytes(KINDS["events"].columns,
                                                   [list(r.values()) for r in KINDS["events"].rows]))
    assert invoke(["churn", "load", "--events", str(events), *db]).exit_code == 0
    fit = write(root / "fit0.csv", csv_bytes(KINDS["uplift_fit"].columns, [list(r.values()) for r in KINDS["uplift_fit"].rows]))
    result = invoke(["uplift", "fit", "--data", str(fit), "--treatment", "arm", "--outcome", "kept", "--control", "none",
                     "--id", "uid", "--name", "fz", "--learner", "s", "--model-dir", str(root / "models"), *db])
    assert result.exit_code == 0, result.output
    write(root / "scores.csv", csv_bytes(KINDS["scores"].columns, [list(r.values()) for r in KINDS["scores"].rows]))
    write(root / "costs.json", json.dumps({"coupon": 2.0, "call": 5.0}).encode())
    return root


def snapshot(root: Path) -> dict:
    """Row counts of every table in the registry (the warehouse lives there too) and the model files."""
    conn = sqlite3.connect(root / "registry.db")
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        counts = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        conn.close()
    counts["model files"] = sorted(p.name for p in (root / "models").iterdir())
    return counts


CASES = [(kind, case, name, content) for kind in KINDS for case, name, content in bad_files(KINDS[kind])]
CASES += [("costs", case, name, content) for case, name, content in bad_json_files()]
# The events loader (warehouse/, rewritten for issue 12 items 4 and 9) now refuses header-only files and short
# rows; these cases still load there, and belong to that loader's rules (far dates, spaces around ids, NUL, a
# duplicated column, 1e308 amounts). Marked so they turn green, not red, when the loader takes them on.
EVENTS_LOADER_PENDING: set[str] = set()  # every bad events file is refused by the loader
PARAMS = [pytest.param(*case, id=f"{case[0]}: {case[1]}",
                       marks=[pytest.mark.xfail(reason="the events loader's own rules (warehouse/)", strict=False)]
                       if case[0] == "events" and case[1] in EVENTS_LOADER_PENDING else [])
          for case in CASES]


def test_there_are_at_least_200_bad_files():
    assert len(CASES) - len(EVENTS_LOADER_PENDING) >= 200


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_valid_base_file_is_accepted(world, tmp_path, kind):
    """The unbroken table of each kind goes through (on a copy), so each refusal below is the mutation's doing."""
    root = tmp_path / "copy"
    shutil.copytree(world, root)
    spec = KINDS[kind]
    path = write(root / "in.csv", csv_bytes(spec.columns, [list(r.values()) for r in spec.rows]))
    result = invoke(command(kind, path, root, tmp_path / "out.csv"))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("kind, case, name, content", PARAMS)
def test_bad_file_gives_one_error_line_and_changes_nothing(world, tmp_path, kind, case, name, content):
    path = write(tmp_path / name, content)
    before = snapshot(world)
    out = tmp_path / "out.csv"
    result = invoke(command(kind, path, world, out))
    assert result.exit_code == 1, f"{kind} / {case}: exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert snapshot(world) == before
    assert not out.exists()
