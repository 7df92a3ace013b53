"""`winback analyze --chart`: a real PNG forest plot of the effects, from a real registry."""
from __future__ import annotations

import numpy as np
import pandas as pd
from click.testing import CliRunner

from experiments.catalog import Metric, Treatment, save_metric, save_treatment
from experiments.definitions import Arm, Experiment, create_experiment
from experiments.imports import import_outcomes
from experiments.lifecycle import start_experiment
from experiments.targeting import arm_of_users, assign_users
from winback.cli import cli


def _registry(tmp_path):
    """4,000 users, control and coupon; retained 30% vs 40%, unsubscribed 2% in both."""
    db = tmp_path / "registry.db"
    save_treatment(Treatment("coupon", "Coupon", "coupon", 2.0), db)
    save_metric(Metric("retained", "binary"), db)
    save_metric(Metric("unsubscribed", "binary", higher_is_better=False), db)
    create_experiment(Experiment(key="chart", name="Chart", primary_metric="retained", guardrail_metrics=("unsubscribed",),
                                 arms=(Arm("control", None, 0.5, True), Arm("coupon", "coupon", 0.5))), db)
    start_experiment("chart", db)
    assign_users("chart", [f"u{i}" for i in range(4000)], db=db)
    arms = arm_of_users("chart", db)
    rng = np.random.default_rng(3)
    treated = (arms.arm_key == "coupon").to_numpy()
    outcomes = pd.concat([
        pd.DataFrame({"metric": "retained", "value": (rng.random(len(arms)) < 0.3 + 0.1 * treated).astype(int)}),
        pd.DataFrame({"metric": "unsubscribed", "value": (rng.random(len(arms)) < 0.02).astype(int)}),
    ]).assign(experiment_key="chart", user_id=np.tile(arms.user_id.to_numpy(), 2))
    outcomes.to_csv(tmp_path / "outcomes.csv", index=False)
    import_outcomes(tmp_path / "outcomes.csv", db)
    return db


def test_absolute_effects_of_rates_are_drawn_in_percentage_points(tmp_path):
    db = _registry(tmp_path)
    chart = tmp_path / "absolute.svg"
    result = CliRunner().invoke(cli, ["analyze", "chart", "--db", str(db), "--absolute", "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    svg = chart.read_text()  # matplotlib keeps each text as a comment beside its glyphs
    assert svg.count("difference vs control (percentage points)") == 2  # retained and unsubscribed
    assert "difference of rates or means" not in svg


def test_analyze_writes_a_chart(tmp_path):
    db = _registry(tmp_path)
    chart = tmp_path / "charts" / "effects.png"
    result = CliRunner().invoke(cli, ["analyze", "chart", "--db", str(db), "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith(f"chart: {chart}")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000
    # --cuped without pre-period outcomes: the title must not claim CUPED (the table's notes say it was skipped).
    svg = tmp_path / "cuped.svg"
    result = CliRunner().invoke(cli, ["analyze", "chart", "--db", str(db), "--cuped", "--chart", str(svg)])
    assert result.exit_code == 0, result.output
    assert "CUPED skipped for 'retained': no pre-period outcomes" in result.output
    assert "CUPED not applied (no pre-period outcomes), 95% intervals" in svg.read_text()


def test_similar_wide_intervals_are_drawn_whole_and_only_an_outlier_is_cut():
    from winback.charts import _limits

    # Two effects of +12% and +17% with 95% intervals about 87 points wide (a revenue panel from
    # `winback simulate shop --users 2500 --seed 3`): the old rule cut both at 1.5 x the points' spread.
    left, right = _limits([0.12, 0.17], [-0.31, -0.26], [0.56, 0.60], 100.0)
    assert left < -31 and right > 60
    # One interval far wider than the typical one still runs off the axis (an arrow marks it).
    left, right = _limits([10, 12, 14, 130], [8, 10, 12, 80], [12, 14, 16, 5000])
    assert right < 5000 and right >= 130


def test_roi_panel_without_a_value_says_how_to_give_one(tmp_path):
    db = tmp_path / "registry.db"
    save_treatment(Treatment("coupon", "Coupon", "coupon", 2.0), db)
    save_metric(Metric("retained", "binary"), db)
    create_experiment(Experiment(key="noval", name="No value", primary_metric="retained",
                                 arms=(Arm("control", None, 0.5, True), Arm("coupon", "coupon", 0.5))), db)
    start_experiment("noval", db)
    assign_users("noval", [f"u{i}" for i in range(400)], db=db)
    arms = arm_of_users("noval", db)
    pd.DataFrame({"experiment_key": "noval", "user_id": arms.user_id, "metric": "retained",
                  "value": (np.arange(len(arms)) % 3 == 0).astype(int)}).to_csv(tmp_path / "o.csv", index=False)
    import_outcomes(tmp_path / "o.csv", db)
    chart = tmp_path / "noval.svg"
    result = CliRunner().invoke(cli, ["analyze", "noval", "--db", str(db), "--chart", str(chart)],
                                env={"WINBACK_VALUE_PER_RETAINED": ""})
    assert result.exit_code == 0, result.output
    svg = chart.read_text()  # matplotlib writes each text as a comment beside its glyphs
    assert "<!-- give one: winback analyze noval - -value-per-retained V -->" in svg  # "--" is escaped in a comment
    assert "return on spend (%)" not in svg  # no made-up ROI axis
