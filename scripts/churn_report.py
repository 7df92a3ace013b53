"""Reproducible figures for docs/churn.md: the CDNOW comparison and the demo-shop segments.

    python scripts/churn_report.py cdnow [--data ../shared/data/cdnow_master.txt]
    python scripts/churn_report.py demo [--users 20000]

Each prints markdown tables (the numbers quoted in docs/churn.md).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from churn.cdnow import read_cdnow
from churn.compare import RISK, compare_scores, paired_bootstrap_auc_gap
from churn.features import compute_features, compute_labels
from churn.ingest import load_events
from churn.pipeline import demo_as_of_dates, load_churn_model, score, train
from churn.segments import segment
from simulator.shop import generate_shop
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
        labelled = segment(features, model.rules_).assign(
            churned=compute_labels(wh, dates["validate"], shop.horizon_days).reindex(features.index),
            risk=model.predict_risk(features))
        scored = score("demo", wh, dates["score"], db).merge(shop.users, on="user_id")
        wh.close()
    v = result.validation
    out = [f"Demo shop: {n_users} users, seed {seed}, {len(shop.events)} events of {shop.events['event_type'].nunique()} types.",
           f"Trained as of {result.as_of}, validated as of {v.as_of} (horizon {v.horizon_days} days, "
           f"{v.n_users} users, churn rate {v.churn_rate:.3f}):", "",
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
        out += [f"By {column}: observed churn on the validation date; true p_churn on the scoring date "
                f"({dates['score'].date()}):", "", _table(observed.merge(truth, on=column, how="outer")), ""]
    slipping = scored[scored["true_state"] == "slipping"]
    cross = pd.crosstab(slipping["reason"], slipping["true_reason"]).reset_index()
    out += ["Likely reason vs the simulator's true reason, users slipping at the scoring date:", "", _table(cross), ""]
    out.append(f"Risk at the scoring date vs the true p_churn: ROC AUC against p_churn > 0.5 "
               f"{roc_auc_score(scored['p_churn'] > 0.5, scored['risk']):.4f}, "
               f"correlation {np.corrcoef(scored['risk'], scored['p_churn'])[0, 1]:.4f}.")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=["cdnow", "demo"])
    parser.add_argument("--data", type=Path, default=CDNOW_DEFAULT, help="cdnow_master.txt")
    parser.add_argument("--users", type=int, default=20_000, help="demo shop size")
    parser.add_argument("--seed", type=int, default=7, help="demo shop seed")
    args = parser.parse_args()
    print(cdnow_report(args.data) if args.which == "cdnow" else demo_report(args.users, args.seed))


if __name__ == "__main__":
    main()
