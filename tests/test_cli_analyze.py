"""`winback analyze` end to end on a registry written with SQL: exit codes, exact lines, JSON."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from scipy import stats

from experiments.db import open_registry, transaction
from winback.cli import cli

NOW = "2026-11-25T00:00:00.000000Z"


@pytest.fixture
def db(tmp_path: Path) -> str:
    """Control 300/1000 retained, coupon 360/1000 (unit cost 1.0, no deliveries recorded)."""
    path = tmp_path / "r.db"
    with transaction(open_registry(path)) as conn:
        conn.execute("INSERT INTO treatments VALUES ('coupon', 'Coupon', 'coupon', 1.0, NULL, ?)", (NOW,))
        conn.execute("INSERT INTO metrics VALUES ('retained', 'binary', 1, '')")
        conn.execute("INSERT INTO experiments (key, name, primary_metric, status, created_at) "
                     "VALUES ('wb', 'Win back', 'retained', 'draft', ?)", (NOW,))
        conn.executemany("INSERT INTO arms (experiment_key, arm_key, position, treatment_key, weight, is_control) VALUES ('wb', ?, ?, ?, 0.5, ?)",
                         [("control", 0, None, 1), ("coupon", 1, "coupon", 0)])
        conn.execute("UPDATE experiments SET status = 'running'")
        users = [(f"c{i}", "control") for i in range(1000)] + [(f"t{i}", "coupon") for i in range(1000)]
        conn.executemany("INSERT INTO assignments VALUES ('wb', ?, ?, ?)", [(*u, NOW) for u in users])
        retained = [f"c{i}" for i in range(300)] + [f"t{i}" for i in range(360)]
        conn.executemany("INSERT INTO outcomes (experiment_key, user_id, metric, period, value, observed_at) VALUES ('wb', ?, 'retained', 'post', 1, ?)", [(u, NOW) for u in retained])
    return str(path)


def run(*args: str):
    return CliRunner().invoke(cli, ["analyze", *args])


def test_table_shows_effect_srm_adjusted_p_and_money(db: str) -> None:
    result = run("wb", "--db", db, "--value-per-retained", "50")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Health checks:"
    assert "Experiment wb (running): ttest, relative effects, 95% intervals, CUPED off" in lines
    assert "SRM: p = 1.00 (ok)" in lines  # 1000 vs 1000 at 50/50; p in three significant digits, as on the web
    row = next(line for line in lines if line.split()[:2] == ["coupon", "retained"])
    # 0.36 / 0.30 - 1 = +20%; p = stats.compare(Moments(1000, 300), Moments(1000, 360)).p_value = 0.0094
    # (Welch, delta-method relative lift, checked against gbstats in tests/stats); one test, so Holm = BH = p
    assert "+20.00%" in row and row.split()[-3:] == ["0.00941", "0.00941", "0.00941"]  # three significant digits (common/formatting.py)
    money = next(line for line in lines if line.startswith("coupon 1,000"))
    # 60 extra retained for 1,000 spent: 16.67 each; ROI (50 x 60 - 1000) / 1000 = +200%; break-even 1000/(1000 x 50) = 2 pp
    assert "16.67" in money and "+200.00%" in money and money.endswith("+2.00 pp")


def test_money_without_a_value_says_why_once_and_how_to_give_one(db: str, monkeypatch) -> None:
    monkeypatch.delenv("WINBACK_VALUE_PER_RETAINED", raising=False)
    result = run("wb", "--db", db)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = lines.index("Money (retention metric 'retained', value per retained user: not given):")
    assert lines[start + 1].split() == ["arm", "users", "cost", "extra", "retained", "cost/retained", "(Fieller", "CI)",
                                        "margin", "ROI", "break-even", "uplift"]  # no wide "why undefined" column
    # The reason comes once under the table (stats/money.py's text), then how to give a value.
    assert lines[start + 3:start + 5] == [
        "  coupon: no value per retained user given: margin, ROI and break-even need one",
        "  give one with `winback analyze wb --value-per-retained V` (or $WINBACK_VALUE_PER_RETAINED)",
    ]


def test_no_outcomes_yet_is_said_not_shown_as_means_of_zero(db: str, tmp_path: Path) -> None:
    with transaction(open_registry(db)) as conn:
        conn.execute("DELETE FROM outcomes")
    chart = tmp_path / "none.png"
    result = run("wb", "--db", db, "--value-per-retained", "50", "--chart", str(chart))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Results vs control (Holm and BH over 1 test):" in lines
    row = next(line for line in lines if line.split()[:2] == ["coupon", "retained"])
    # Before: control 0, treatment 0 and "control mean is 0, so a relative lift has no meaning (use relative=False)".
    assert row.split()[2:] == ["primary", "-", "-", "-", "[-,", "-]", "-", "-", "-", "no", "outcomes", "imported",
                               "for", "'retained'", "yet"]
    assert "  coupon: no uplift estimate (no outcomes imported for 'retained' yet)" in lines
    assert lines[-4:-2] == ["Notes:", "- no outcomes imported for 'retained' yet: import them with "
                                      "`winback import outcomes FILE`"]
    assert lines[-1] == f"chart: {chart}" and chart.exists()


def test_a_guardrail_with_none_in_control_is_judged_on_the_difference_and_blocks_a_decision(db: str) -> None:
    with transaction(open_registry(db)) as conn:
        conn.execute("INSERT INTO metrics VALUES ('unsubscribed', 'binary', 0, '')")
        conn.execute("UPDATE experiments SET guardrail_metrics = '[\"unsubscribed\"]'")
        conn.executemany("INSERT INTO outcomes (experiment_key, user_id, metric, period, value, observed_at) "
                         "VALUES ('wb', ?, 'unsubscribed', 'post', 1, ?)", [(f"t{i}", NOW) for i in range(60)])
    result = run("wb", "--db", db)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.split()[:2] == ["coupon", "unsubscribed"])
    # Control 0/1000, coupon 60/1000: relative change undefined, absolute +0.06 with Welch SE
    # sqrt(0.06 x 0.94 / 999) = 0.0075, so the 95% CI is about [+0.045, +0.075]: wholly on the bad side.
    assert row.split()[:10] == ["coupon", "unsubscribed", "guardrail", "0", "0.06", "-", "[-,", "-]", "-", "-"]
    assert row.split()[11:13] == ["fail", "undefined:"]  # the verdict, then why the relative effect is blank
    note = next(line for line in result.output.splitlines() if line.startswith("- guardrail 'unsubscribed'"))
    assert note.startswith("- guardrail 'unsubscribed' for arm 'coupon' is judged on the absolute difference (+0.06, "
                           "95% CI [+0.045")
    CliRunner().invoke(cli, ["experiment", "stop", "wb", "--db", db])
    decided = CliRunner().invoke(cli, ["decide", "wb", "--winner", "coupon", "--rationale", "more retained",
                                       "--by", "ana", "--db", db])
    assert decided.exit_code == 1
    assert "cannot declare 'coupon' the winner: arm 'coupon' fails guardrail(s) unsubscribed" in decided.output


def test_a_rare_event_guardrail_fails_on_the_absolute_difference_when_the_relative_interval_is_too_wide(db: str):
    with transaction(open_registry(db)) as conn:
        conn.execute("INSERT INTO metrics VALUES ('unsubscribed', 'binary', 0, '')")
        conn.execute("UPDATE experiments SET guardrail_metrics = '[\"unsubscribed\"]'")
        conn.executemany("INSERT INTO outcomes (experiment_key, user_id, metric, period, value, observed_at) "
                         "VALUES ('wb', ?, 'unsubscribed', 'post', 1, ?)", [("c0", NOW)] + [(f"t{i}", NOW) for i in range(14)])
    result = run("wb", "--db", db)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.split()[:2] == ["coupon", "unsubscribed"])
    # 1/1000 vs 14/1000: the delta-method relative interval spans zero by a wide margin (+1300%, p > 0.05), the
    # absolute one is 0.013 ± 1.96 x sqrt(0.014 x 0.986 / 999 + 0.001 x 0.999 / 999) = [+0.0055, +0.0205].
    assert row.split()[-1] == "fail"
    assert float(row.split()[-4]) > 0.05  # the relative read's p-value, as printed (then p holm, p bh, verdict)
    note = next(line for line in result.output.splitlines() if line.startswith("- guardrail 'unsubscribed'"))
    assert note.endswith("the relative interval is too wide to judge (relative read: warn); a guardrail keeps the "
                         "stricter of the relative and the absolute read")
    assert "(+0.013, 95% CI [+0.005451, +0.02055])" in note


def test_money_heading_names_the_currency_when_one_is_set(db: str, monkeypatch) -> None:
    monkeypatch.setenv("WINBACK_CURRENCY", "EUR")
    lines = run("wb", "--db", db, "--value-per-retained", "50").output.splitlines()
    assert "Money in EUR (retention metric 'retained', value per retained user: 50.00):" in lines


def test_json_output_is_strict_json(db: str) -> None:
    result = run("wb", "--db", db, "--json", "--method", "bayesian")
    assert result.exit_code == 0
    report = json.loads(result.output)["report"]
    assert report["method"] == "bayesian" and report["results"][0]["comparison"]["p_value"] is None
    assert report["economics"][0]["economics"]["cost_per_retained"] == pytest.approx(1000 / 60)


def test_errors_are_one_clean_line(db: str) -> None:
    result = run("nope", "--db", db)
    assert result.exit_code == 1
    assert result.output == "Error: unknown experiment 'nope'; known experiments: wb\n"
    result = run("wb", "--db", db, "--segment", "tier")
    assert result.exit_code == 1
    assert result.output == ("Error: experiment 'wb' has no target cohort, so it has no tier segments; "
                             "analyse it without a segment\n")


def test_help_documents_every_option() -> None:
    result = CliRunner().invoke(cli, ["analyze", "--help"])
    assert result.exit_code == 0
    for option in ("--db", "--method", "--cuped", "--segment", "--value-per-retained", "--json"):
        assert option in result.output


def test_absolute_reads_the_difference_in_rate_points(db: str) -> None:
    result = run("wb", "--db", db, "--absolute", "--value-per-retained", "50")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Experiment wb (running): ttest, absolute effects, 95% intervals, CUPED off" in lines
    row = next(line for line in lines if line.split()[:2] == ["coupon", "retained"])
    # 0.36 - 0.30 = +0.06. A 0/1 metric's variance is p(1 - p) per arm (gbstats' convention for proportions), so
    # SE = sqrt(.3 × .7 / 1000 + .36 × .64 / 1000) = 0.020986, with Welch's degrees of freedom (scipy's t quantile).
    var_c, var_t = 0.3 * 0.7 / 1000, 0.36 * 0.64 / 1000
    df = (var_c + var_t) ** 2 / (var_c**2 / 999 + var_t**2 / 999)
    half = stats.t.ppf(0.975, df) * math.sqrt(var_c + var_t)
    # a binary metric's difference in percentage points, as the help promises and break-even uplift reads
    assert f"[{(0.06 - half) * 100:+.2f}, {(0.06 + half) * 100:+.2f}] pp" == "[+1.88, +10.12] pp"
    assert "+6.00 pp [+1.88, +10.12] pp" in row
    money = next(line for line in lines if line.startswith("coupon 1,000"))
    assert "16.67" in money and "+200.00%" in money  # the money view is the same whichever effect is shown
    refused = run("wb", "--db", db, "--absolute", "--by-day")
    assert refused.exit_code == 2 and "--absolute reads the effects table" in refused.output


def test_a_guardrail_verdict_does_not_depend_on_showing_absolute_effects(db: str) -> None:
    # A higher-is-better guardrail that drops: control 500/1000 active, coupon 457/1000. The delta-method relative
    # interval (-8.6 % [-16.98 %, -0.22 %]) is narrower than the absolute one (-0.043 [-0.0868, +0.0008]), so the
    # relative read fails where the absolute read only warns; both displays keep the stricter verdict.
    with transaction(open_registry(db)) as conn:
        conn.execute("INSERT INTO metrics VALUES ('active', 'binary', 1, '')")
        conn.execute("UPDATE experiments SET guardrail_metrics = '[\"active\"]'")
        active = [f"c{i}" for i in range(500)] + [f"t{i}" for i in range(457)]
        conn.executemany("INSERT INTO outcomes (experiment_key, user_id, metric, period, value, observed_at) "
                         "VALUES ('wb', ?, 'active', 'post', 1, ?)", [(u, NOW) for u in active])
    for extra in ([], ["--absolute"]):
        output = run("wb", "--db", db, *extra).output
        row = next(line for line in output.splitlines() if line.split()[:2] == ["coupon", "active"])
        assert row.split()[-1] == "fail", (extra, row)
    note = next(line for line in output.splitlines() if line.startswith("- guardrail 'active'"))
    assert note.startswith("- guardrail 'active' for arm 'coupon' is judged on the relative change (-8.60%, 95% CI "
                           "[-16.98%, -0.22%]): its interval lies wholly on the bad side; the absolute read alone "
                           "says warn")


def test_every_money_figure_has_cents_and_extra_retained_users_one_decimal(db: str) -> None:
    lines = run("wb", "--db", db, "--value-per-retained", "50").output.splitlines()
    money = next(line for line in lines if line.startswith("coupon 1,000")).split()
    # cost 1,000 x 1.0 = 1,000.00; 60 extra retained users; 1,000 / 60 = 16.67 each;
    # margin 50 x 60 - 1,000 = 2,000.00 (the same cents as the cost, not 2,000 beside 1,000.00)
    assert money[2] == "1,000.00" and money[3] == "60.0" and money[6] == "16.67"
    assert "2,000.00" in money


def test_bayesian_risk_is_in_the_effects_units(db: str) -> None:
    lines = run("wb", "--db", db, "--method", "bayesian").output.splitlines()
    row = next(line for line in lines if line.split()[:2] == ["coupon", "retained"])
    report = json.loads(run("wb", "--db", db, "--method", "bayesian", "--json").output)["report"]
    risk = report["results"][0]["comparison"]["risk"]  # the expected loss, as a fraction of the control mean
    # relative effects are shown in %, so is their expected loss (not a bare fraction beside +20.00%)
    assert row.split()[-1] == f"{risk:.2%}"
    # a Bayesian read's interval is a credible interval, and its column says so (not "95% CI")
    header = next(line for line in lines if line.split()[:2] == ["arm", "metric"])
    assert "95% credible interval" in header and "95% CI" not in header


def test_engine_help_says_what_each_command_does_without_engine() -> None:
    # analyze without --engine reads imported outcomes; the warehouse commands then use DuckDB (open_engine("duckdb"))
    from click.testing import CliRunner

    from winback.cli import cli

    def engine_help(*command: str) -> str:
        text = " ".join(CliRunner().invoke(cli, [*command, "--help"]).output.split())
        return text[text.index("--engine"):].split(" --", 1)[0]

    assert engine_help("analyze").endswith("default: the registry's imported outcomes.")
    assert engine_help("warehouse", "features").endswith("default: duckdb.")
    assert engine_help("warehouse", "score").endswith("default: duckdb.")
