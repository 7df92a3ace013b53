"""The pages that let the growth loop finish in the browser: drafts in full (edit, delete), uploads of deliveries
and outcomes (preview, import, undo), the catalog, API tokens of one's own, and the API's JSON bodies."""
from __future__ import annotations

import io
import re

import pandas as pd
from webui_client import post

from experiments.db import registry
from experiments.definitions import get_experiment
from experiments.imports import list_imports

DRAFT = {"key": "wb-draft", "name": "Draft to edit", "owner": "gina", "cohort": "at-risk", "coverage": "1",
         "layer": "drafts", "arm_key_0": "control", "arm_weight_0": "0.5", "arm_key_1": "coupon",
         "arm_treatment_1": "coupon_10", "arm_weight_1": "0.5", "primary_metric": "retained", "action": "create"}


def _count(db, sql: str) -> int:
    with registry(db) as database:
        return database.execute(sql).fetchone()[0]


def test_a_draft_is_shown_in_full_edited_and_deleted(shop, as_user) -> None:
    gina = as_user("gina")
    assert post(gina, "/launch", DRAFT).status_code == 302
    page = gina.get("/experiments/wb-draft").text
    assert "The draft as stored" in page and "Edit the draft" in page
    assert re.search(r"coupon</td><td>coupon_10</td><td class=\"num\">0.5</td>", page)
    form = gina.get("/experiments/wb-draft/edit").text
    assert 'value="wb-draft"' in form and "readonly" in form and "Save the draft" in form
    # Two bad fields are named together, not one per submit.
    both = post(gina, "/experiments/wb-draft/edit", {**DRAFT, "action": "save", "arm_weight_0": "half",
                                                     "coverage": "most"})
    assert both.status_code == 400
    assert "arm &#39;control&#39;: the weight must be a number, got &#39;half&#39;; coverage must be a number" in both.text
    saved = post(gina, "/experiments/wb-draft/edit", {**DRAFT, "action": "save", "arm_weight_0": "0.4",
                                                      "arm_weight_1": "0.6", "name": "Edited"})
    assert saved.status_code == 302
    edited = get_experiment("wb-draft", shop.db)
    assert edited.name == "Edited" and [a.weight for a in edited.arms] == [0.4, 0.6]  # as typed, not rescaled
    assert post(gina, "/experiments/wb-draft/delete", {}).status_code == 400  # the confirmation box
    assert post(gina, "/experiments/wb-draft/delete", {"confirm": "yes"}).status_code == 302
    assert _count(shop.db, "SELECT COUNT(*) FROM experiments WHERE key = 'wb-draft'") == 0
    assert post(as_user("finn"), "/experiments/wb-q4/delete", {"confirm": "yes"}).status_code == 403


def _outcomes_csv(shop) -> bytes:
    rows = shop.outcomes.head(40)
    frame = pd.DataFrame({"experiment_key": "wb-q4", "user_id": rows["user_id"], "metric": "revenue_test",
                          "value": range(len(rows))})
    return frame.to_csv(index=False).encode()


def test_outcomes_are_previewed_imported_and_undone_in_the_browser(shop, as_user) -> None:
    gina = as_user("gina")
    post(gina, "/catalog", {"what": "metric", "key": "revenue_test", "kind": "continuous"})
    before = _count(shop.db, "SELECT COUNT(*) FROM outcomes")
    preview = post(gina, "/data", {"action": "preview", "kind": "outcomes",
                                   "file": (io.BytesIO(_outcomes_csv(shop)), "june outcomes.csv")},
                   content_type="multipart/form-data")
    assert preview.status_code == 200, preview.text
    assert "Preview of june outcomes.csv" in preview.text and "<strong>40 new</strong>" in preview.text
    assert _count(shop.db, "SELECT COUNT(*) FROM outcomes") == before  # a preview writes nothing
    token = re.search(r'name="token" value="([0-9a-f]{32})"', preview.text).group(1)
    done = post(gina, "/data", {"action": "import", "kind": "outcomes", "token": token, "name": "june outcomes.csv"},
                follow_redirects=True)
    assert "Imported june outcomes.csv: 40 rows read, 40 new, 0 already present" in done.text
    assert _count(shop.db, "SELECT COUNT(*) FROM outcomes") == before + 40
    again = post(gina, "/data", {"action": "import", "kind": "outcomes", "token": token})
    assert again.status_code == 400 and "unknown or already imported" in again.text  # the upload was used up
    batch = list_imports(shop.db)[0]
    assert batch.source == "june outcomes.csv" and batch.inserted == 40
    post(gina, "/data", {"action": "undo", "batch": str(batch.id)})
    assert _count(shop.db, "SELECT COUNT(*) FROM outcomes") == before


def test_a_bad_upload_names_the_file_row_and_column_and_writes_nothing(shop, as_user) -> None:
    bad = b"experiment_key,user_id,metric,value\nwb-q4,u00001,retained,1\nwb-q4,u00002,retained,lots\n"
    page = post(as_user("gina"), "/data", {"action": "preview", "kind": "outcomes",
                                           "file": (io.BytesIO(bad), "bad.csv")}, content_type="multipart/form-data")
    assert page.status_code == 400
    assert "bad.csv, row 2, column &#39;value&#39;" in page.text and "registry-uploads" not in page.text
    assert post(as_user("finn"), "/data", {"action": "preview", "kind": "outcomes",
                                           "file": (io.BytesIO(bad), "bad.csv")},
                content_type="multipart/form-data").status_code == 403


def test_tokens_of_ones_own_download_the_csv_twins(shop, as_user, app) -> None:
    finn = as_user("finn")
    page = post(finn, "/account", {"action": "create", "label": "nightly"})
    secret = re.search(r'<code class="secret">([^<]+)</code>', page.text).group(1)
    anonymous = app.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    download = anonymous.get("/experiments/wb-q4/assignments.csv", headers=auth)
    assert download.status_code == 200 and download.text.startswith("user_id,arm,treatment_key")
    assert anonymous.get("/experiments.csv", headers=auth).status_code == 200
    assert anonymous.get("/experiments.csv", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert anonymous.get("/experiments/wb-q4", headers=auth).status_code == 302  # pages still need a login
    token_id = re.search(r'name="id" value="(\d+)"', finn.get("/account").text).group(1)
    assert post(as_user("gina"), "/account", {"action": "revoke", "id": token_id}).status_code == 404  # not hers
    post(finn, "/account", {"action": "revoke", "id": token_id})
    assert anonymous.get("/experiments.csv", headers=auth).status_code == 401


def test_the_api_reads_json_bodies_and_says_what_it_expects(shop, as_user, app) -> None:
    finn = as_user("finn")
    secret = re.search(r'<code class="secret">([^<]+)</code>',
                       post(finn, "/account", {"action": "create"}).text).group(1)
    client, auth = app.test_client(), {"Authorization": f"Bearer {secret}"}
    created = client.post("/api/v1/catalog", json={"what": "metric", "key": "visits", "kind": "continuous"},
                          headers=auth)
    assert created.status_code == 403  # finance may not change the catalog: the role, not the body, refuses
    listed = client.post("/api/v1/experiments/wb-q4/refresh", json={"method": "ttest"}, headers=auth)
    assert listed.status_code == 201
    not_object = client.post("/api/v1/allocations", json=["plan-1", 100], headers=auth)
    assert not_object.status_code == 400 and "the JSON body must be an object of fields" in not_object.json["message"]
    typed = client.post("/api/v1/experiments/wb-q4/refresh", data="method=ttest", headers={**auth,
                        "Content-Type": "text/plain"})
    assert typed.status_code in (201, 415)


def test_favicon_and_no_404_on_every_page(as_user) -> None:
    gina = as_user("gina")
    assert 'rel="icon"' in gina.get("/experiments").text
    assert gina.get("/static/favicon.svg").status_code == 200
    assert gina.get("/favicon.ico").status_code in (200, 301, 302, 308)


def test_page_messages_name_the_page_control_not_a_command_line_option() -> None:
    from webui.wording import for_the_page

    # The services' wordings (experiments/lifecycle.py, uplift/planning.py) as they read today.
    decided = ("cannot declare 'coupon' the winner: guardrail unsubscribed failed. Give an override reason to record "
               "it anyway (--override \"reason\" on the command line, the override box on the strategy page)")
    assert for_the_page(decided).endswith("record it anyway (the override box on the strategy page)")
    left = ("coupon_10 left out: it failed guardrail(s) unsubscribed in the experiment the model came from (allow it "
            "with --allow-treatment coupon_10, or tick it under 'Allow even if it failed a guardrail' on the budget "
            "page)")
    assert "--" not in for_the_page(left) and for_the_page(left).endswith(
        "(tick it under 'Allow even if it failed a guardrail' on the budget page)")


def test_charts_name_their_axis_and_colours_and_keep_guardrails_on_their_own_axis(as_user) -> None:
    page = as_user("gina").get("/experiments/wb-q4/results").text
    if "Refresh analysis" in page and "Effects against control" not in page:
        post(as_user("gina"), "/experiments/wb-q4/refresh")
        page = as_user("gina").get("/experiments/wb-q4/results").text
    assert page.count('class="chart"') >= 2  # the primary metric and the guardrails: two axes
    assert "primary metric retained: effect with its 95% interval" in page
    assert "guardrails and other metrics: effect with its 95% interval, on their own axis" in page
    assert 'class="axis-label">relative change against control, %</text>' in page
    assert "guardrail fails</text>" in page  # the legend says what red means


def test_a_rate_interval_never_reads_below_minus_100_percent() -> None:
    from common.formatting import PAGE

    # A 14-user segment's normal interval of a rate's relative change can reach -180%; a rate cannot fall below 0.
    assert PAGE.rate_interval(-1.8, 0.4, True, True) == "[≥ -100.00%, +40.00%]"
    assert PAGE.rate_interval(-1.8, 0.4, True, False) == "[-180.00%, +40.00%]"  # a profit can fall further
    assert PAGE.rate_interval(-0.2, 0.4, True, True) == "[-20.00%, +40.00%]"

