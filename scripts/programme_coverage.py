"""Does the programme report's 95% interval cover the true programme effect? Simulated programmes, one per seed.

    PYTHONPATH=. .venv/bin/python scripts/programme_coverage.py            # 20 seeds, 50,000 users, 12 weeks (~1 min)
    PYTHONPATH=. .venv/bin/python scripts/programme_coverage.py --seeds 100 --out docs/programme_coverage_100.json

Each seed runs simulator.weekly's oracle programme twice on the same shop: with the default treatments
(hazard -40% high value, -25% regular, spend +30% while treated) and with treatments that do nothing.
stats.programme_effect compares the programme with its 10% holdout per tier. Counted per tier: how often the
churn reduction's interval covers the true reduction (and the LTV interval the true LTV change), and, for
the null programme, how often a significant reduction is reported (lower bound > 0) or the interval
excludes 0 on either side. Writes the JSON (per-seed rows and the summary) and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from simulator.weekly import TIERS, WeeklyShopConfig, run_oracle_programme
from stats.programme_effect import programme_effect

NO_EFFECT = {tier: 0.0 for tier in TIERS}


def one_seed(seed: int, n_users: int, weeks: int) -> list[dict[str, Any]]:
    """Per tier and scenario (effect, null): the truth, the estimate and its interval, covered or not."""
    rows = []
    base = WeeklyShopConfig(n_users=n_users, weeks=weeks, seed=seed, holdout_seed=f"programme-{seed}")
    for scenario, config in (("effect", base), ("null", replace(base, churn_effect=NO_EFFECT, spend_effect=NO_EFFECT))):
        run, _ = run_oracle_programme(config)
        result = programme_effect(run.groups)
        for effect in result.tiers:
            truth = run.truth[effect.tier]
            rows.append({
                "seed": seed, "scenario": scenario, "tier": effect.tier,
                "users_programme": effect.users_programme, "users_holdout": effect.users_holdout,
                "true_reduction": truth.churn_reduction, "reduction": effect.reduction,
                "ci_low": effect.ci_low, "ci_high": effect.ci_high,
                "covered": bool(effect.ci_low <= truth.churn_reduction <= effect.ci_high),
                "significant_reduction": bool(effect.ci_low > 0), "significant_either_side": effect.significant,
                "true_ltv_change": truth.ltv_change, "ltv_change": effect.ltv_change,
                "ltv_ci_low": effect.ltv_ci_low, "ltv_ci_high": effect.ltv_ci_high,
                "ltv_covered": bool(effect.ltv_ci_low <= truth.ltv_change <= effect.ltv_ci_high),
            })
    return rows


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Counts per tier and scenario over the seeds."""
    out = []
    for scenario in ("effect", "null"):
        for tier in TIERS:
            group = [r for r in rows if r["scenario"] == scenario and r["tier"] == tier]
            out.append({
                "scenario": scenario, "tier": tier, "seeds": len(group),
                "mean_true_reduction": sum(r["true_reduction"] for r in group) / len(group),
                "mean_reduction": sum(r["reduction"] for r in group) / len(group),
                "covered": sum(r["covered"] for r in group),
                "ltv_covered": sum(r["ltv_covered"] for r in group),
                "significant_reduction": sum(r["significant_reduction"] for r in group),
                "significant_either_side": sum(r["significant_either_side"] for r in group),
            })
    return out


def table(summary: list[dict[str, Any]]) -> str:
    """The summary as a markdown table."""
    lines = ["| programme | tier | seeds | true reduction (mean) | estimate (mean) | churn CI covers truth | "
             "LTV CI covers truth | significant reduction | CI excludes 0 |", "|" + " --- |" * 9]
    for s in summary:
        lines.append(f"| {s['scenario']} | {s['tier']} | {s['seeds']} | {s['mean_true_reduction']:.3f} | "
                     f"{s['mean_reduction']:.3f} | {s['covered']} / {s['seeds']} | {s['ltv_covered']} / {s['seeds']} | "
                     f"{s['significant_reduction']} / {s['seeds']} | {s['significant_either_side']} / {s['seeds']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path("docs/programme_coverage.json"))
    parser.add_argument("--rows", action=argparse.BooleanOptionalAction, default=True,
                        help="keep the per-seed rows in the JSON (--no-rows: the summary only)")
    args = parser.parse_args()
    rows = [row for seed in range(args.first_seed, args.first_seed + args.seeds)
            for row in one_seed(seed, args.users, args.weeks)]
    summary = summarize(rows)
    settings = {"seeds": args.seeds, "first_seed": args.first_seed, "users": args.users, "weeks": args.weeks,
                "config": {k: (dict(v) if isinstance(v, dict) else v)
                           for k, v in vars(WeeklyShopConfig()).items() if k not in ("seed", "n_users", "weeks")}
                | {"holdout_seed": "programme-<seed>"}}
    clean = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows]
    head = json.dumps({"settings": settings, "summary": summary}, indent=1)
    body = ",\n".join(json.dumps(row) for row in clean) if args.rows else ""
    args.out.write_text(f'{head[:-2]},\n "rows": [\n{body}\n ]\n}}\n')
    print(table(summary))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
