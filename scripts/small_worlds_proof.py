"""The small-experiment proof over three world families × five seeds, into docs/uplift_small_worlds_<family>.json.

    .venv/bin/python scripts/small_worlds_proof.py [--resume] [--families threshold,dose] [--seeds 0,1,2,3,4]
    .venv/bin/python scripts/small_worlds_proof.py --tables      # the markdown tables from every family's JSON

One JSON per family, so the families can run as separate processes (`--families dose`) side by side.

Each run fits on the family's experiment (told the costs, the budget and the population), plans the
population with the chosen model and judges it on the true effects (simulator/small_proof.py).
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import click

from simulator.small_proof import prove_family
from simulator.small_worlds import FAMILIES

DOCS = Path(__file__).resolve().parents[1] / "docs"


def out_path(folder: Path, family: str) -> Path:
    return folder / f"uplift_small_worlds_{family}.json"


def summary(results: list[dict]) -> str:
    """Per family: median and worst share of the oracle, worst gap to the best candidate, promises within ±15 %."""
    lines = ["| family | runs | median share | worst share | worst gap to best candidate | promise within ±15 % | "
             "promise covered | fit forecast within ±15 % | fit forecast covered |", "|" + " --- |" * 9]
    for family in dict.fromkeys(r["world"] for r in results):
        runs = [r for r in results if r["world"] == family]
        gaps = [r["best_candidate_share"] - r["share_of_oracle"] for r in runs]
        lines.append(
            f"| {family} | {len(runs)} | {statistics.median(r['share_of_oracle'] for r in runs):.1%} | "
            f"{min(r['share_of_oracle'] for r in runs):.1%} | {max(gaps) * 100:+.1f} pts | "
            f"{sum(abs(r['promise_ratio'] - 1) <= 0.15 for r in runs)} of {len(runs)} | "
            f"{sum(r['promise_covered'] for r in runs)} of {len(runs)} | "
            f"{sum(abs(r['fit_ratio'] - 1) <= 0.15 for r in runs)} of {len(runs)} | "
            f"{sum(r['fit_covered'] for r in runs)} of {len(runs)} |")
    return "\n".join(lines)


def tables(results: list[dict]) -> str:
    """The summary, one row per run, then every candidate's DR value and true share of the oracle."""
    lines = [summary(results), "", "| family | seed | chosen | share of oracle | best candidate | realized | "
             "promise [95 %] | promise / realized | fit forecast [95 %] | forecast / realized | fit s |",
             "|" + " --- |" * 11]
    for r in results:
        best = max(r["candidates"], key=lambda c: c["share_of_oracle"])
        lines.append(
            f"| {r['world']} | {r['seed']} | {r['learner']} | {r['share_of_oracle']:.1%} | {best['learner']} "
            f"{best['share_of_oracle']:.1%} | {r['realized']:,.0f} | {r['promise']:,.0f} [{r['promise_low']:,.0f}, "
            f"{r['promise_high']:,.0f}] | {r['promise_ratio']:.2f} | {r['fit_forecast']:,.0f} [{r['fit_low']:,.0f}, "
            f"{r['fit_high']:,.0f}] | {r['fit_ratio']:.2f} | {r['seconds']:.0f} |")
    lines += ["", "| family | seed | candidate | DR plan value per user [95 %] | share of oracle |", "|" + " --- |" * 5]
    for r in results:
        for c in r["candidates"]:
            mark = "**" if c["learner"] == r["learner"] else ""
            lines.append(f"| {r['world']} | {r['seed']} | {mark}{c['learner']}{mark} | {c['policy_value']:+.4f} "
                         f"[{c['ci_low']:+.4f}, {c['ci_high']:+.4f}] | {c['share_of_oracle']:.1%} |")
    return "\n".join(lines)


def _names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--tables", "print_tables", is_flag=True, help="Print the markdown tables from the JSON and stop.")
@click.option("--resume", is_flag=True, help="Keep the runs already in the JSON and run only the missing ones.")
@click.option("--families", default=",".join(FAMILIES), show_default=True, help="Comma-separated world families.")
@click.option("--seeds", default="0,1,2,3,4", show_default=True, help="Comma-separated seeds.")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), default=DOCS, show_default=True,
              help="Where the families' JSON files are written and read.")
def main(print_tables: bool, resume: bool, families: str, seeds: str, folder: Path) -> None:
    """Prove every family × seed, one line each; a family's JSON is rewritten after each run (so --resume can go on)."""
    names = _names(families)
    unknown = [f for f in names if f not in FAMILIES]
    if unknown:
        raise click.BadParameter(f"unknown famil(ies) {', '.join(unknown)}; choose from {', '.join(FAMILIES)}")
    if print_tables:
        paths = [out_path(folder, f) for f in names if out_path(folder, f).exists()]
        if not paths:
            raise click.ClickException(f"no uplift_small_worlds_<family>.json in {folder} yet: run the proof first")
        click.echo(tables([run for path in paths for run in json.loads(path.read_text())]))
        return
    for family in names:
        out = out_path(folder, family)
        results = json.loads(out.read_text()) if out.exists() and resume else []
        done = {r["seed"] for r in results}
        for seed in map(int, _names(seeds)):
            if seed in done:
                continue
            proof = prove_family(FAMILIES[family], seed)
            results.append(proof.to_dict())
            click.echo(f"{family:<10} seed {seed}: {proof.learner:<9} share {proof.share_of_oracle:.3f} (best candidate "
                       f"{proof.best_candidate_share:.3f}), promise/realized {proof.promise_ratio:.2f} "
                       f"{'covered' if proof.promise_covered else 'missed'}, fit forecast/realized "
                       f"{proof.fit_ratio:.2f} {'covered' if proof.fit_covered else 'missed'}, fit {proof.seconds:.0f} s")
            out.write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
