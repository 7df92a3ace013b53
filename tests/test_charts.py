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


def test_analyze_writes_a_chart(tmp_path):
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

    chart = tmp_path / "charts" / "effects.png"
    result = CliRunner().invoke(cli, ["analyze", "chart", "--db", str(db), "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith(f"chart: {chart}")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000
