"""One service per action: the same action through each door (service, CLI, page, API) leaves the same registry.

Each door acts on its own copy of the same shop registry; the registries are then compared table by table.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from webui_client import login, post
from webui_shop import copy_registry, write_scores

from experiments.catalog import Metric, Treatment, list_metrics, list_treatments, save_metric, save_treatment
from experiments.db import open_registry, registry
from experiments.definitions import Arm, Experiment, create_experiment
from experiments.lifecycle import stop_experiment
from experiments.optouts import add_opt_outs
from experiments.programmes import Programme, in_holdout, save_programme
from experiments.snapshots import take_snapshot
from experiments.starting import assign_and_snapshot, start_and_assign
from experiments.users import create_token
from uplift.plan_runs import plan_budget
from webui import create_app
from winback.cli import cli

DOORS = ("service", "cli", "page", "api")
OPTED_OUT = ["u00001", "u00002"]


def _copies(shop, tmp_path: Path) -> dict[str, Path]:
    copies = {}
    for door in DOORS:
        (tmp_path / door).mkdir()
        copies[door] = tmp_path / door / "registry.db"
        copy_registry(shop.db, copies[door])
    return copies


def _page(db: Path, user: str):
    client = create_app({"DB": str(db), "SECRET_KEY": "test-secret", "TESTING": True}).test_client()
    assert login(client, user).status_code == 302
    return client


def _api(db: Path, user: str):
    client = create_app({"DB": str(db), "SECRET_KEY": "test-secret", "TESTING": True}).test_client()
    with registry(db) as database:
        secret = create_token(database, user, "parity").secret
    return client, {"Authorization": f"Bearer {secret}"}


def _cli(*args: object) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _rows(db: Path, sql: str) -> list[tuple]:
    with registry(db) as database:
        return database.execute(sql).fetchall()


def _plan_state(db: Path, key: str) -> dict[str, list[tuple]]:
    return {"plan_users": _rows(db, f"SELECT user_id, arm_key, treatment_key, expected_uplift, cost FROM plan_users "
                                    f"WHERE plan_key = '{key}' ORDER BY user_id"),
            "assignments": _rows(db, f"SELECT user_id, arm_key FROM assignments WHERE experiment_key = '{key}' "
                                     "ORDER BY user_id"),
            "arms": _rows(db, f"SELECT arm_key, treatment_key, weight, is_control, unit_cost FROM arms "
                              f"WHERE experiment_key = '{key}' ORDER BY position"),
            "snapshots": _rows(db, f"SELECT COUNT(*) FROM analysis_snapshots WHERE experiment_key = '{key}'"),
            "audit": _rows(db, f"SELECT action FROM audit_log WHERE object_key = '{key}' ORDER BY id")}


def _held_out(db: Path, user_ids: list[str]) -> list[str]:
    """Make a programme whose holdout (half of everyone, by its hash) takes some of `user_ids`; return them."""
    programme = save_programme(db, Programme("parity", holdout_share=0.5, experiment="wb-any"), actor="test")
    return sorted(pd.Series(user_ids)[in_holdout(programme, user_ids)])


@pytest.mark.parametrize("rule", ["opt_out", "holdout"])
def test_a_budget_plan_leaves_opted_out_and_holdout_users_out_at_every_door(shop, tmp_path, rule) -> None:
    """The repro of issue 21: opt-outs u1 and u2, scores for u0..u9; the page and the API once planned both. The same
    for a programme's holdout (issue 22): no holdout user is in any door's plan or send list."""
    scores_path = tmp_path / "scores.csv"
    write_scores(scores_path, n_users=10)
    copies = _copies(shop, tmp_path)
    excluded = OPTED_OUT
    for db in copies.values():
        if rule == "opt_out":
            add_opt_outs(OPTED_OUT, "asked", db)
        else:
            excluded = _held_out(db, [f"u{i:05d}" for i in range(10)])
    assert excluded
    form = {"key": "plan-x", "budget": "50", "holdout": "0", "seed": "1"}

    plan_budget(copies["service"], pd.read_csv(scores_path, dtype={"user_id": str}), key="plan-x", budget=50, seed=1)
    _cli("allocate", "--scores", scores_path, "--budget", 50, "--seed", 1, "--record", "plan-x",
         "--out", tmp_path / "cli" / "plan.csv", "--db", copies["cli"])
    page = _page(copies["page"], "finn")
    with open(scores_path, "rb") as handle:
        answer = post(page, "/allocate", {**form, "scores": (handle, "scores.csv")}, content_type="multipart/form-data")
    assert answer.status_code == 200, answer.text
    api, auth = _api(copies["api"], "finn")
    with open(scores_path, "rb") as handle:
        answer = api.post("/api/v1/allocations", data={**form, "scores": (handle, "scores.csv")}, headers=auth,
                          content_type="multipart/form-data")
    assert answer.status_code == 201, answer.text
    assert answer.json["plan"]["summary"]["left_out"] == {rule: len(excluded)}
    # The send list a CRM downloads, with the same token (a CSV twin of the page).
    send_list = api.get("/experiments/plan-x/assignments.csv", headers=auth)
    assert send_list.status_code == 200, send_list.status_code
    downloaded = {row["user_id"] for row in csv.DictReader(io.StringIO(send_list.text))}
    assert downloaded and not downloaded & set(excluded)
    assert not set(pd.read_csv(tmp_path / "cli" / "plan.csv", dtype=str)["user_id"]) & set(excluded)

    states = {door: _plan_state(db, "plan-x") for door, db in copies.items()}
    for door in DOORS:
        planned = {row[0] for row in states[door]["plan_users"]}
        assert planned and not planned & set(excluded), door
        assert states[door] == states["service"], door


def _draft(db: Path) -> None:
    create_experiment(Experiment(key="wb-par", name="Parity", primary_metric="retained", owner="gina",
                                 arms=(Arm("control", None, 0.5, True), Arm("coupon", "coupon_10", 0.5)),
                                 target_cohort="at-risk", layer="parity", value_per_retained=40.0), db, actor="gina")


def _start_state(db: Path) -> dict[str, list[tuple]]:
    return {"status": _rows(db, "SELECT status FROM experiments WHERE key = 'wb-par'"),
            "assignments": _rows(db, "SELECT user_id, arm_key FROM assignments WHERE experiment_key = 'wb-par' "
                                     "ORDER BY user_id"),
            "snapshots": _rows(db, "SELECT COUNT(*) FROM analysis_snapshots WHERE experiment_key = 'wb-par'"),
            "audit": _rows(db, "SELECT action FROM audit_log WHERE object_key = 'wb-par' ORDER BY id")}


def test_starting_assigns_the_cohort_and_snapshots_at_every_door(shop, tmp_path) -> None:
    """The page started, assigned and snapshotted; the API only started (no users); the CLI only started."""
    copies = _copies(shop, tmp_path)
    for db in copies.values():
        _draft(db)
        add_opt_outs(OPTED_OUT, "asked", db)
    start_and_assign(copies["service"], "wb-par", actor="gina")
    printed = _cli("experiment", "start", "wb-par", "--db", copies["cli"])
    page = _page(copies["page"], "gina")
    answer = post(page, "/experiments/wb-par/start", {"confirm": "yes"}, follow_redirects=True)
    api, auth = _api(copies["api"], "gina")
    started = api.post("/api/v1/experiments/wb-par/start", json={}, headers=auth)
    assert started.status_code == 200, started.text
    # The same sentence at every door.
    message = started.json["message"]
    assert message.startswith("wb-par is running; 1,198 users of cohort at-risk assigned (2 opted out")
    assert printed == f"experiment {message}\n" and f"Experiment {message}." in answer.text.replace("&#39;", "'")
    states = {door: _start_state(db) for door, db in copies.items()}
    assert len(states["service"]["assignments"]) == 1198 and states["service"]["snapshots"] == [(1,)]
    for door in DOORS:
        assert states[door] == states["service"], door


@pytest.mark.parametrize("door", ["cli", "page", "api"])
def test_the_catalog_is_kept_alike_at_every_door(shop, tmp_path, door) -> None:
    """Treatments and metrics: the page and the API now add them too, through the catalog's services."""
    expected, actual = tmp_path / "expected.db", tmp_path / "actual.db"
    copy_registry(shop.db, expected)
    copy_registry(shop.db, actual)
    save_treatment(Treatment("vip_call", "VIP call", "vip_service", 12.5, 300), expected, actor="gina")
    save_metric(Metric("complaints", "binary", False, "complained within 60 days"), expected)
    doors: dict[str, Callable[[], None]] = {
        "cli": lambda: (_cli("treatment", "add", "vip_call", "--name", "VIP call", "--kind", "vip_service",
                             "--unit-cost", 12.5, "--capacity", 300, "--db", actual),
                        _cli("metric", "add", "complaints", "--kind", "binary", "--lower-is-better",
                             "--description", "complained within 60 days", "--db", actual)),
        "page": lambda: [post(_page(actual, "gina"), "/catalog", fields) for fields in (
            {"what": "treatment", "key": "vip_call", "name": "VIP call", "kind": "vip_service", "unit_cost": "12.5",
             "capacity": "300"},
            {"what": "metric", "key": "complaints", "kind": "binary", "lower_is_better": "1",
             "description": "complained within 60 days"})],
        "api": lambda: [_api_post(actual, "/api/v1/catalog", fields) for fields in (
            {"what": "treatment", "key": "vip_call", "name": "VIP call", "kind": "vip_service", "unit_cost": 12.5,
             "capacity": 300},
            {"what": "metric", "key": "complaints", "kind": "binary", "lower_is_better": True,
             "description": "complained within 60 days"})],
    }
    doors[door]()
    assert list_treatments(actual) == list_treatments(expected)
    assert list_metrics(actual) == list_metrics(expected)


def _api_post(db: Path, url: str, body: dict) -> None:
    client, auth = _api(db, "gina")
    answer = client.post(url, json=body, headers=auth)
    assert answer.status_code == 201, answer.text


def _import_state(db: Path) -> dict[str, list[tuple]]:
    return {"outcomes": _rows(db, "SELECT experiment_key, user_id, metric, value, period FROM outcomes "
                                  "WHERE metric = 'visits' ORDER BY user_id"),
            "batches": _rows(db, "SELECT kind, source, rows_read, inserted FROM import_batches ORDER BY id")}


def test_an_outcomes_file_imports_alike_at_every_door(shop, tmp_path) -> None:
    """`winback import outcomes`, the Data page's upload and the API's: the same rows and batch (named by the file)."""
    copies = _copies(shop, tmp_path)
    csv_file = tmp_path / "visits.csv"
    users = sorted(shop.outcomes["user_id"].unique())[:25]
    pd.DataFrame({"experiment_key": "wb-q4", "user_id": users, "metric": "visits", "value": range(25)}).to_csv(
        csv_file, index=False)
    for db in copies.values():
        save_metric(Metric("visits", "continuous"), db)
    from experiments.imports import import_outcomes

    import_outcomes(csv_file, copies["service"], source="visits.csv")
    with open(csv_file) as handle:  # the CLI names the file by the path it was given: give it the same name
        (tmp_path / "cli" / "visits.csv").write_text(handle.read())
    _cli_in(tmp_path / "cli", "import", "outcomes", "visits.csv", "--db", copies["cli"])
    page = _page(copies["page"], "gina")
    preview = post(page, "/data", {"action": "preview", "kind": "outcomes",
                                   "file": (io.BytesIO(csv_file.read_bytes()), "visits.csv")},
                   content_type="multipart/form-data")
    token = re.search(r'name="token" value="([0-9a-f]{32})"', preview.text).group(1)
    post(page, "/data", {"action": "import", "kind": "outcomes", "token": token, "name": "visits.csv"})
    api, auth = _api(copies["api"], "gina")
    answer = api.post("/api/v1/imports", data={"kind": "outcomes", "file": (io.BytesIO(csv_file.read_bytes()),
                                                                             "visits.csv")},
                      headers=auth, content_type="multipart/form-data")
    assert answer.status_code == 201, answer.text
    states = {door: _import_state(db) for door, db in copies.items()}
    assert len(states["service"]["outcomes"]) == 25
    for door in DOORS:
        assert states[door] == states["service"], door


def test_assign_stop_refresh_and_decide_leave_the_same_registry_at_every_door(shop, tmp_path) -> None:
    """The lifecycle after start: assign (with a snapshot), stop, refresh and decide, through each door."""
    copies = _copies(shop, tmp_path)
    for db in copies.values():
        _draft(db)
        start_and_assign(db, "wb-par", actor="gina")
    assign_and_snapshot(copies["service"], "wb-par", actor="gina")
    stop_experiment("wb-par", copies["service"], actor="gina")
    take_snapshot(open_registry(copies["service"]), "wb-par", actor="gina")
    _cli("experiment", "assign", "wb-par", "--db", copies["cli"])
    _cli("experiment", "stop", "wb-par", "--db", copies["cli"])
    _cli("analyze", "wb-par", "--save", "--db", copies["cli"])
    page = _page(copies["page"], "gina")
    for action in ("assign", "stop"):
        post(page, f"/experiments/wb-par/{action}", {"confirm": "yes"})
    post(page, "/experiments/wb-par/refresh")
    api, auth = _api(copies["api"], "gina")
    for url in ("/api/v1/experiments/wb-par/assign", "/api/v1/experiments/wb-par/stop",
                "/api/v1/experiments/wb-par/refresh"):
        assert api.post(url, json={}, headers=auth).status_code in (200, 201), url
    states = {door: {**_start_state(db), "audit": _rows(db, "SELECT action FROM audit_log WHERE object_key = 'wb-par' "
                                                          "AND action NOT IN ('snapshot') ORDER BY id")}
              for door, db in copies.items()}
    for door in DOORS:
        assert states[door]["status"] == [("stopped",)], door
        assert states[door]["assignments"] == states["service"]["assignments"], door
        assert states[door]["audit"] == states["service"]["audit"], door
    # One experiment list at every door: the CLI prints the rows the page shows.
    listed = _cli("experiment", "list", "--json", "--db", copies["cli"])
    assert '"users_by_arm"' in listed and '"snapshot_id"' in listed


def _cli_in(folder: Path, *args: object) -> str:
    import os

    here = os.getcwd()
    os.chdir(folder)
    try:
        return _cli(*args)
    finally:
        os.chdir(here)
