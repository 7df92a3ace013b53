"""The overview's cohort table shows the as-of date each cohort's risk refers to, "unknown" when it was not
recorded (the shop's cohort is written without one, webui_shop.py)."""
from __future__ import annotations

import re

import pandas as pd
from webui_shop import COHORT

from experiments.cohorts import write_cohort


def test_overview_lists_each_cohorts_as_of_date(shop, as_user) -> None:
    write_cohort(pd.DataFrame({"user_id": ["a1", "a2"], "risk": [0.9, 0.7], "stage": "lapsing", "tier": "regular",
                               "reason": "price", "model": "m1", "as_of": "2026-11-20"}), "dated", shop.db)
    page = as_user("stella").get("/overview").text
    assert "<th>Model</th><th>As of</th><th>Scored</th>" in page
    cells = {key: re.findall(r"<td>([^<]*)</td>", row) for key, row in
             re.findall(r'overview\?cohort=([\w-]+)">[\w-]+</a></td>(.*?)</tr>', page)}
    assert cells[COHORT][1] == "unknown" and cells["dated"][:2] == ["m1", "2026-11-20"]
    api = {c["cohort_key"]: c["as_of"] for c in as_user("stella").get("/api/v1/overview").json["cohorts"]}
    assert api == {COHORT: None, "dated": "2026-11-20"}
