"""Hostile inputs through the web doors (issue 23): every bad file of tests/fuzz_files.py uploaded as deliveries,
outcomes and budget scores, and hostile form fields and API bodies, give a page or JSON error, never a 500 or a
traceback, and leave the registry's fact tables as they were."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from webui_client import post

from experiments.db import registry
from experiments.users import create_token

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fuzz_files import InputKind, bad_files  # noqa: E402

pytestmark = pytest.mark.slow
USERS = [f"u{i:05d}" for i in range(6)]
KINDS = {
    "deliveries": InputKind(
        "deliveries",
        [{"experiment_key": "wb-q4", "user_id": u, "treatment_key": "coupon_10", "sent_at": "2026-11-20T09:00:00Z",
          "cost": "2.5", "channel": "email"} for u in USERS[:4]],
        ids=("experiment_key", "user_id", "treatment_key"), numbers=("cost",), times=("sent_at",),
        required=("experiment_key", "user_id", "treatment_key", "sent_at", "cost")),
    "outcomes": InputKind(
        "outcomes",
        [{"experiment_key": "wb-q4", "user_id": u, "metric": "retained", "value": str(i % 2), "period": "post",
          "observed_at": "2026-11-21T00:00:00Z"} for i, u in enumerate(USERS[:4])],
        ids=("experiment_key", "user_id", "metric"), numbers=("value",), times=("observed_at",),
        required=("experiment_key", "user_id", "metric", "value")),
    "scores": InputKind("scores", [{"user_id": u, "coupon_10": f"0.0{i}", "reco_email": f"0.1{i}"}
                                   for i, u in enumerate(USERS[:4])], ids=("user_id",),
                        numbers=("coupon_10", "reco_email"), required=("user_id",)),
}
HOSTILE_TEXT = ["", " ", "\x00", "\x1b[2J", "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "a" * 70_000,
                "‮gnp.exe", "NaN", "inf", "-1e308", "1e400", "{}", "[]", "null", "%00", "\ud800".encode(
                    "utf-8", "surrogatepass").decode("utf-8", "replace")]


def _facts(db) -> tuple[int, ...]:
    with registry(db) as database:
        return tuple(database.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                     for t in ("deliveries", "outcomes", "plan_users", "import_batches"))


def _ok(response) -> None:
    assert response.status_code < 500, response.text[-500:]
    assert "Traceback" not in response.text


def test_hostile_files_forms_and_bodies_give_no_500(shop, as_user, app) -> None:
    gina, finn = as_user("gina"), as_user("finn")
    before = _facts(shop.db)
    count = 0
    for kind, spec in KINDS.items():
        for _, name, data in bad_files(spec):
            if kind == "scores":
                response = post(finn, "/allocate", {"key": f"p{count}", "budget": "10",
                                                    "scores": (io.BytesIO(data), name)},
                                content_type="multipart/form-data")
            else:
                response = post(gina, "/data", {"action": "preview", "kind": kind, "file": (io.BytesIO(data), name)},
                                content_type="multipart/form-data")
            _ok(response)
            count += 1
    forms = {"/launch": ("key", "name", "arm_weight_0", "coverage", "value_per_retained", "primary_metric"),
             "/catalog": ("key", "unit_cost", "capacity", "kind"),
             "/allocate": ("key", "budget", "holdout", "seed", "value_per_retained"),
             "/data": ("action", "kind", "token", "batch"),
             "/account": ("action", "id", "label")}
    for url, fields in forms.items():
        client = finn if url == "/allocate" else gina
        for field in fields:
            for text in HOSTILE_TEXT:
                base = {"action": "create", "what": "treatment", "arm_key_0": "control"} if url != "/data" else {}
                _ok(post(client, url, {**base, field: text}))
                count += 1
    with registry(shop.db) as database:
        secret = create_token(database, "ada", "fuzz").secret
    api, auth = app.test_client(), {"Authorization": f"Bearer {secret}"}
    bodies = [[], "text", 3, None, {"key": ["a", {"b": 1}]}, {"what": "metric", "key": "\x00"},
              {"what": "treatment", "key": "t", "unit_cost": "NaN"}, {"what": None}, {"budget": "1e400", "key": "p"},
              {"key": "x" * 5000, "arm_key_0": "control", "arm_weight_0": "1"}]
    for url in ("/api/v1/catalog", "/api/v1/experiments", "/api/v1/allocations", "/api/v1/imports",
                "/api/v1/experiments/wb-q4/decide", "/api/v1/experiments/nope/start"):
        for body in bodies:
            _ok(api.post(url, json=body, headers=auth))
            _ok(api.post(url, data=str(body), headers={**auth, "Content-Type": "text/plain"}))
            count += 2
    assert count >= 300, count
    assert _facts(shop.db)[:3] == before[:3]  # no delivery, outcome or plan row came in through a hostile input
