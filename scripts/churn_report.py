"""Reproducible figures for docs/churn.md: the CDNOW comparison and the demo-shop segments.

    python scripts/churn_report.py cdnow [--data ../shared/data/cdnow_master.txt]
    python scripts/churn_report.py demo [--users 20000]
    python scripts/churn_report.py clv [--data ../shared/data/cdnow_master.txt]
    python scripts/churn_report.py flagging [--worlds 3000:1:30,10000:2:60,...]

Each prints markdown tables (the numbers quoted in docs/churn.md).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

from churn.cdnow import cdnow_holdout, holdout_by_frequency, read_cdnow, read_cdnow_sample
from churn.clv import ClvSettings
from churn.compare import RISK, compare_scores, paired_bootstrap_auc_gap
from churn.features import compute_features, compute_labels
from churn.flagging import STAGES, FlagSpec
from churn.ingest import load_events
from churn.pipeline import demo_as_of_dates, flag, load_churn_model, score, train
from churn.segments import TierRule, segment
from simulator.shop import generate_shop, simulate
from warehouse.engine import Warehouse

CDNOW_DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "cdnow_master.txt"


def _table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def cdnow_report(path: Path, seeds: tuple[int, ...] = (0, 1, 2, 3, 4)) -> str:
    """ROC AUC of every method on the issue's CDNOW split, the risk over several seeds, and the gap's CI."""
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse(Path(tmp) / "cdnow.db")
        load_events(read_cdnow(path), wh, name="cdnow")
        runs = [compare_scores(wh, "1997-06-30", "1997-09-30", 91, seed=s) for s in seeds]
        wh.close()
    y, first = runs[0]
    risk_aucs = [roc_auc_score(y, scores[RISK]) for _, scores in runs]
    rows = [{"method": RISK, "roc_auc": float(np.mean(risk_aucs)),
             "note": f"mean of seeds {list(seeds)}, sd {np.std(risk_aucs, ddof=1):.4f}"}]
    rows += [{"method": name, "roc_auc": float(roc_auc_score(y, s)), "note": "deterministic"}
             for name, s in first.items() if name != RISK]
    lines = [f"Users scored: {len(y)}, churn rate {y.mean():.3f} (no order 1997-10-01 to 1997-12-30).", "",
             _table(pd.DataFrame(rows)), ""]
    for name in ("RFM logistic regression", "BG/NBD expected orders", "recency rule"):
        gap, low, high = paired_bootstrap_auc_gap(y, first[RISK], first[name])
        lines.append(f"- risk minus {name}: {gap:+.4f} AUC (paired bootstrap 95% CI {low:+.4f} to {high:+.4f}, seed 0)")
    return "\n".join(lines)


def demo_report(n_users: int, seed: int = 7) -> str:
    """Validation metrics on the demo shop and churn rates by stage, tier and reason (observed and true)."""
    shop = generate_shop(n_users, seed=seed)
    dates = demo_as_of_dates(shop.as_of, shop.horizon_days)
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse(Path(tmp) / "wh.db")
        db = Path(tmp) / "registry.db"
        load_events(shop.events, wh, name="demo shop")
        result = train(wh, dates["train"], shop.horizon_days, "demo", db, validate_as_of=dates["validate"],
                       model_dir=Path(tmp) / "models")
        model = load_churn_model("demo", db)
        features = compute_features(wh, dates["validate"])
        labelled = segment(features, model.rules_, TierRule(basis="monthly")).assign(
            churned=compute_labels(wh, dates["validate"], shop.horizon_days).reindex(features.index),
            risk=model.predict_risk(features))
        scored = score("demo", wh, dates["score"], db, tiers=TierRule(basis="monthly"), clv=None).merge(
            shop.users, on="user_id")
        wh.close()
    v = result.validation
    out = [f"Demo shop: {n_users} users, seed {seed}, {len(shop.events)} events of {shop.events['event_type'].nunique()} types.",
           (f"Trained as of {result.as_of}, validated as of {v.as_of} (horizon {v.horizon_days} days, "
           f"{v.n_users} users, churn rate {v.churn_rate:.3f}):"), "",
           _table(pd.DataFrame([{k: getattr(v, k) for k in ("roc_auc", "pr_auc", "top_decile_precision",
                                                              "top_decile_recall", "brier")}])), "",
           "Calibration (deciles of predicted risk, validation date):", "",
           _table(pd.DataFrame(v.calibration)), "",
           f"Per-stage thresholds for precision {v.target_precision}:", "",
           _table(pd.DataFrame(v.thresholds.values())[["stage", "threshold", "precision", "recall", "n_users", "n_flagged", "note"]]), ""]
    for column in ("stage", "tier", "reason"):
        observed = labelled.groupby(column).agg(users=("risk", "size"), mean_risk=("risk", "mean"),
                                                churn_rate=("churned", "mean")).reset_index()
        truth = scored.groupby(column).agg(users_at_score=("risk", "size"), mean_risk_at_score=("risk", "mean"),
                                           true_p_churn=("p_churn", "mean")).reset_index()
        out += [(f"By {column}: observed churn on the validation date; true p_churn on the scoring date "
                f"({dates['score'].date()}):"), "", _table(observed.merge(truth, on=column, how="outer")), ""]
    slipping = scored[scored["true_state"] == "slipping"]
    cross = pd.crosstab(slipping["reason"], slipping["true_reason"]).reset_index()
    out += ["Likely reason vs the simulator's true reason, users slipping at the scoring date:", "", _table(cross), ""]
    out.append(f"Risk at the scoring date vs the true p_churn: ROC AUC against p_churn > 0.5 "
               f"{roc_auc_score(scored['p_churn'] > 0.5, scored['risk']):.4f}, "
               f"correlation {np.corrcoef(scored['risk'], scored['p_churn'])[0, 1]:.4f}.")
    return "\n".join(out)


PUBLISHED = {  # Fader, Hardie and Lee (2005), BG/NBD on the 2,357-customer sample; Fader and Hardie (2013), Gamma-Gamma
    "r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74, "gamma": 15.44,
}


CENSOR = 7  # customers with this many repeat purchases or more share the last bin (BTYD's censor)


def clv_report(master: Path) -> str:
    """BG/NBD and Gamma-Gamma on CDNOW (weeks 1-39) beside the published parameters, and the 39-week holdout."""
    runs = {"sample (2,357, lifetimes' CDNOW_sample.txt)": cdnow_holdout(read_cdnow_sample()),
            "master (23,570, cdnow_master.txt)": cdnow_holdout(read_cdnow(master))}
    rows = [{"parameter": k, "published (sample)": v,
             **{name: round(getattr(run.parameters, k), 4) for name, run in runs.items()}} for k, v in PUBLISHED.items()]
    lines = [_table(pd.DataFrame(rows)), "", ("| data | repeat purchases weeks 1-39 | weeks 40-78 actual | "
             "predicted (conditional) | error | predicted (unconditional) | error |"), "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, run in runs.items():
        unc = run.holdout_predicted_unconditional
        lines.append(f"| {name} | {run.calibration_purchases:,} | {run.holdout_actual:,} | {run.holdout_predicted:,.1f} | "
                     f"{run.holdout_error:+.1%} | {unc:,.1f} | {unc / run.holdout_actual - 1:+.1%} |")
    bins = holdout_by_frequency(read_cdnow_sample(), censor=CENSOR)
    lines += ["", "| repeat purchases, weeks 1-39 | customers | weeks 40-78 actual (mean) | forecast (mean) | "
              "actual total | forecast total | gap |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in bins.itertuples():
        label = f"{CENSOR}+" if row.calibration_purchases == CENSOR else str(row.calibration_purchases)
        lines.append(f"| {label} | {row.customers:,} | {row.actual_mean:.4f} | {row.forecast_mean:.4f} | "
                     f"{row.actual_total:,.0f} | {row.forecast_total:,.1f} | {row.forecast_total - row.actual_total:+,.1f} |")
    return "\n".join(lines)


def flag_world(n_users: int, seed: int, horizon: int) -> dict:
    """Train on a generated shop, flag with the defaults, and judge the cohort against the simulator's truth.

    The shop is simulated one horizon past its as-of date; the models only see the history. `true precision`
    is the mean true churn probability (`p_churn`) of the flagged users, `realized` the share of them with
    no order in the horizon that followed, `recall` their share of all expected churners. Customer value
    is predicted over the horizon (whole months, undiscounted) and compared with the spend that followed.
    """
    as_of = "2026-06-30"
    users, coded = simulate(n_users, seed=seed, as_of=as_of, horizon_days=horizon, extra_days=horizon)
    events = coded.to_frame(users["user_id"].to_numpy())
    cut = pd.Timestamp(as_of)
    history, future = events[events["ts"] < cut], events[events["ts"] >= cut]
    dates = demo_as_of_dates(cut, horizon)
    months = max(1, round(horizon / 30.4375))
    value = ClvSettings(horizon_months=months, discount_rate=0.0)
    with tempfile.TemporaryDirectory() as tmp:
        wh, db = Warehouse(Path(tmp) / "wh.db"), Path(tmp) / "registry.db"
        load_events(history, wh, name="world")
        train(wh, dates["train"], horizon, "world", db, validate_as_of=dates["validate"], model_dir=Path(tmp) / "m")
        result = flag("world", wh, dates["score"], db, clv=value)
        old = flag("world", wh, dates["score"], db, spec=FlagSpec(rule="stage-thresholds", stages=STAGES),
                   tiers=TierRule(basis="monthly"), clv=None)
        shop = score("world", wh, dates["score"], db, clv=value)
        by_spend = score("world", wh, dates["score"], db, tiers=TierRule(basis="spend"), clv=None)
        by_month = score("world", wh, dates["score"], db, tiers=TierRule(basis="monthly"), clv=None)
        wh.close()
    truth = users.set_index("user_id")["p_churn"]
    orders = future[future["event_type"] == "order"]
    ordered = set(orders.loc[orders["ts"] < cut + pd.Timedelta(days=horizon), "user_id"])
    spent = orders[orders["ts"] < cut + pd.Timedelta(days=months * 30.4375)].groupby("user_id")["amount"].sum()
    spent = spent.reindex(shop["user_id"]).fillna(0.0).to_numpy()
    flagged_p = truth.reindex(result.users["user_id"]).to_numpy()
    return {
        "users": n_users, "seed": seed, "horizon": horizon,
        "churn rate": round(float(truth.reindex(shop["user_id"]).mean()), 3),
        "flagged": f"{result.n_flagged:,} of {result.n_scored:,} ({result.n_flagged / result.n_scored:.0%})",
        "expected precision": round(result.expected_precision, 3),
        "true precision": round(float(flagged_p.mean()), 3),
        "realized precision": round(float((~result.users["user_id"].isin(ordered)).mean()), 3),
        "recall": round(float(flagged_p.sum() / truth.reindex(shop["user_id"]).sum()), 3),
        "warning": "yes" if result.warnings else "no",
        "old default": f"{old.n_flagged:,} ({old.n_flagged / old.n_scored:.0%}), precision "
                       f"{truth.reindex(old.users['user_id']).mean():.3f}",
        "high value: clv / spend / 500 a month": " / ".join(
            str(int((t["tier"] == "high_value").sum())) for t in (shop, by_spend, by_month)),
        "clv vs actual spend, next months": f"{shop['clv'].sum():,.0f} vs {spent.sum():,.0f} "
                                             f"(Spearman {spearmanr(shop['clv'], spent)[0]:.2f})",
    }


def flagging_report(worlds: list[tuple[int, int, int]]) -> str:
    """Every world's default cohort: size, precision against the truth, recall, warning, tiers, value."""
    rows = []
    for n, seed, horizon in tqdm(worlds, desc="worlds"):
        rows.append(flag_world(n, seed, horizon))
    return _table(pd.DataFrame(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=["cdnow", "demo", "clv", "flagging"])
    parser.add_argument("--worlds", default="3000:1:30,3000:2:60,3000:3:120,10000:4:60,30000:5:30,30000:6:90",
                        help="users:seed:horizon,... for flagging")
    parser.add_argument("--data", type=Path, default=CDNOW_DEFAULT, help="cdnow_master.txt")
    parser.add_argument("--users", type=int, default=20_000, help="demo shop size")
    parser.add_argument("--seed", type=int, default=7, help="demo shop seed")
    args = parser.parse_args()
    if args.which == "cdnow":
        print(cdnow_report(args.data))
    elif args.which == "demo":
        print(demo_report(args.users, args.seed))
    elif args.which == "clv":
        print(clv_report(args.data))
    else:
        print(flagging_report([tuple(int(x) for x in w.split(":")) for w in args.worlds.split(",")]))


if __name__ == "__main__":
    main()
