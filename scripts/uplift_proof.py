"""The targeting proof over every simulated world, written into docs/uplift_proof.json (tables in docs/uplift.md).

    .venv/bin/python scripts/uplift_proof.py [--quick] [--resume]   # runs every world, writes the JSON
    .venv/bin/python scripts/uplift_proof.py --tables                # prints the markdown tables from the JSON
    .venv/bin/python scripts/uplift_proof.py --frontier              # the budget-frontier chart (demo seed 7)
    .venv/bin/python scripts/uplift_proof.py --ceiling               # what the features allow: a model of the true uplift
    .venv/bin/python scripts/uplift_proof.py --demo-users 100000     # the demo seeds only, from a bigger shop (own JSON)
    .venv/bin/python scripts/uplift_proof.py --world-seeds 2,3,4     # harmful and interaction on more seeds (own JSON)
    .venv/bin/python scripts/uplift_proof.py --breakdown "demo (seed 7)"  # one world, treatment by treatment

Worlds: the harmful-treatment world and the interaction world (100,000 users, seed 0), the demo shop
(60,000 users of which the ~36,000 flagged at risk, seeds 7-11), then the first two worlds again (seed 1).
Each: fit on a randomized experiment of 70 % of the users, plan the budget for the other 30 %, judge
on the true effects (simulator/targeting_proof.py).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

from simulator.targeting_proof import feature_ceiling, prove_world, setup_proof, treatment_breakdown
from simulator.worlds import demo_world, harmful_world, interaction_world


def tables(results: list[dict]) -> str:
    """Markdown: one summary row per world × seed, then every candidate's policy value, Qini and realized share.

    The forecast is the chosen candidate's cross-fitted DR value per user × the plan's users (recomputed from
    the candidates, so older JSON reads the same); the calibrated sum is what the scores alone add up to.
    """
    lines = ["| world | seed | plan users | budget | learner | realized | oracle | share of oracle | best blanket | "
             "gain | forecast [95 % CI] | error | covered | calibrated sum [95 %] | passed |", "|" + " --- |" * 15]
    for r in results:
        chosen = next(c for c in r["candidates"] if c["learner"] == r["learner"])
        n = r["n_plan"]
        forecast, low, high = chosen["policy_value"] * n, chosen["ci_low"] * n, chosen["ci_high"] * n
        error, covered = forecast / r["realized"] - 1, low <= r["realized"] <= high
        passed = (r["share_of_oracle"] >= 0.85 and r["gain_over_blanket"] >= 0.30 and abs(error) <= 0.15 and covered)
        lines.append(
            f"| {r['world']} | {r['seed']} | {n:,} | {r['budget']:,.0f} | {r['learner']} | "
            f"{r['realized']:,.0f} | {r['oracle']:,.0f} | {r['share_of_oracle']:.2%} | "
            f"{r['best_blanket']} {r['best_blanket_retained']:,.0f} | {r['gain_over_blanket']:+.0%} | "
            f"{forecast:,.0f} [{low:,.0f}, {high:,.0f}] | {error:+.1%} | {'yes' if covered else 'no'} | "
            f"{r['predicted']:,.0f} [{r['ci_low']:,.0f}, {r['ci_high']:,.0f}] | {'yes' if passed else 'no'} |")
    lines += ["", "| world | seed | candidate | DR value per user [95 % CI] | Qini | realized | share of oracle | "
              "calibrated sum |", "|" + " --- |" * 8]
    for r in results:
        for c in r["candidates"]:
            mark = "**" if c["learner"] == r["learner"] else ""
            lines.append(f"| {r['world']} | {r['seed']} | {mark}{c['learner']}{mark} | {c['policy_value']:+.4f} "
                         f"[{c['ci_low']:+.4f}, {c['ci_high']:+.4f}] | {c['qini']:.3f} | {c['realized']:,.0f} | "
                         f"{c['share_of_oracle']:.1%} | {c['predicted']:,.0f} |")
    return "\n".join(lines)


def frontier() -> None:
    """The budget frontier of the demo shop (seed 7) into docs/uplift_frontier.csv and .png."""
    from simulator.proof import demo_frontier, demo_holdout
    from uplift.frontier import plot_frontier

    docs = Path(__file__).resolve().parents[1] / "docs"
    table = demo_frontier(demo_holdout(60_000, seed=7, learner="auto"))
    table.to_csv(docs / "uplift_frontier.csv", index=False)
    plot_frontier(table, docs / "uplift_frontier.png", title="Demo shop: held-out users, true effects")
    print(table.to_string())


DEMO_SEEDS = (7, 8, 9, 10, 11)


def generated(size: int, seeds: tuple[int, ...]) -> list[tuple[str, int, Callable]]:
    """(name, seed, maker) of the harmful and the interaction world on each seed, in that order."""
    return [(name, seed, lambda make=make, seed=seed: make(size, seed=seed))
            for seed in seeds for name, make in (("harmful", harmful_world), ("interaction", interaction_world))]


def worlds(size: int = 100_000, demo_size: int = 60_000, demo_only: bool = False) -> list[tuple[str, int, Callable]]:
    """(name, seed, maker) of every world the proof runs, in its order: harmful and interaction (seed 0), the demo
    seeds, then harmful and interaction again (seed 1); only the demo seeds with `demo_only`."""
    demo = [(f"demo (seed {s})", s, lambda s=s: demo_world(demo_size, seed=s)) for s in DEMO_SEEDS]
    if demo_only:
        return demo
    pair = generated(size, (0, 1))
    return [*pair[:2], *demo, *pair[2:]]


def ceiling(out_path: Path) -> None:
    """Every world's feature ceiling (simulator.targeting_proof.feature_ceiling), printed and written as JSON."""
    out = []
    for name, seed, make in worlds():
        share = feature_ceiling(make(), seed=seed)
        out.append({"world": name, "seed": seed, "feature_ceiling": share})
        print(f"{name:<16} seed {seed}: a model of the true uplift reaches {share:.1%} of the oracle", flush=True)
    out_path.write_text(json.dumps(out, indent=1))


# Click rewraps help paragraphs; a paragraph that starts with \b keeps its lines (the usage block).
HELP = __doc__.replace("\n\n    .venv", "\n\n\b\n    .venv", 1)


class SeedList(click.ParamType):
    """Comma-separated non-negative seeds, e.g. 2,3,4."""

    name = "SEEDS"

    def convert(self, value, param, ctx) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        parts = [part.strip() for part in str(value).split(",")]
        if not all(part.isdigit() for part in parts):
            self.fail(f"{value!r}: give seeds separated by commas, e.g. --world-seeds 2,3,4", param, ctx)
        return tuple(int(part) for part in parts)


@click.command(help=HELP, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@click.option("--quick", is_flag=True, help="Smaller worlds (20,000 users, demo 30,000) into docs/uplift_proof_quick.json.")
@click.option("--resume", is_flag=True, help="Keep the worlds already in the JSON and run only the missing ones.")
@click.option("--tables", "print_tables", is_flag=True, help="Print the markdown tables from the JSON (that the other options name) and stop.")
@click.option("--frontier", "draw_frontier", is_flag=True, help="The budget-frontier chart of the demo shop (seed 7) and stop.")
@click.option("--ceiling", "run_ceiling", is_flag=True, help="What the features allow: a model of the true uplift, every world, and stop.")
@click.option("--breakdown", "breakdown_world", metavar="WORLD", default=None,
              help="One world of the proof (e.g. \"demo (seed 7)\", harmful, interaction), treatment by treatment: "
                   "users given each, their true gain and the uplift's correlation with the truth, for the oracle, "
                   "the feature ceiling and every candidate; printed, and stop.")
@click.option("--demo-users", type=click.IntRange(min=1), default=None, metavar="N",
              help="The demo seeds only, from a shop of N users, into docs/uplift_proof_demo<N>.json.")
@click.option("--world-seeds", type=SeedList(), default=None,
              help="Harmful and interaction worlds on these seeds (e.g. 2,3,4), into docs/uplift_proof_seeds2-3-4.json.")
def main(quick: bool, resume: bool, print_tables: bool, draw_frontier: bool, run_ceiling: bool,
         breakdown_world: str | None, demo_users: int | None, world_seeds: tuple[int, ...] | None) -> None:
    """Run every world and print one line each; write the JSON beside the docs."""
    docs = Path(__file__).resolve().parents[1] / "docs"
    out_path = docs / ("uplift_proof_quick.json" if quick else "uplift_proof.json")
    if demo_users:
        out_path = docs / f"uplift_proof_demo{demo_users}.json"
    if world_seeds:
        out_path = docs / f"uplift_proof_seeds{'-'.join(map(str, world_seeds))}.json"
    if print_tables:
        if not out_path.exists():
            raise click.ClickException(f"{out_path} does not exist yet: run the proof with the same options first")
        click.echo(tables(json.loads(out_path.read_text())))
        return
    if draw_frontier:
        frontier()
        return
    if run_ceiling:
        ceiling(docs / "uplift_ceiling.json")
        return
    if breakdown_world:
        click.echo(breakdown(breakdown_world))
        return
    run_proof(out_path, quick=quick, resume=resume, demo_users=demo_users, world_seeds=world_seeds or ())


def breakdown(name: str) -> str:
    """The markdown table of simulator.targeting_proof.treatment_breakdown for the first proof world called `name`."""
    runs: dict[str, tuple[int, Callable]] = {}
    for run_name, seed, make in worlds():
        runs.setdefault(run_name, (seed, make))  # harmful and interaction: their first seed, 0
    if name not in runs:
        raise click.BadParameter(f"{name!r} is not a world of the proof; choose one of {', '.join(runs)}",
                                 param_hint="--breakdown")
    seed, make = runs[name]
    frame = treatment_breakdown(setup_proof(make(), seed=seed))
    title = name if "seed" in name else f"{name} (seed {seed})"
    lines = [f"{title}: treatment by treatment on the held-out users", "",
             "| plan | share of oracle | treatment | users | true incremental retained | correlation with the truth |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r.plan} | {r.share_of_oracle:.1%} | {r.treatment} | {r.users:,} | {r.true_gain:,.1f} | "
              f"{r.correlation:.2f} |" for r in frame.itertuples()]
    return "\n".join(lines)


def run_proof(out_path: Path, *, quick: bool, resume: bool, demo_users: int | None, world_seeds: tuple[int, ...]) -> None:
    """Prove each world in turn, printing one line and rewriting the JSON after each (so --resume can go on)."""
    results = json.loads(out_path.read_text()) if out_path.exists() and resume else []
    done = {(r["world"], r["seed"]) for r in results}
    size = 20_000 if quick else 100_000  # the shop: 100k users, fitted on a randomized experiment of it
    runs = (generated(size, world_seeds) if world_seeds
            else worlds(size, demo_users or (30_000 if quick else 60_000), demo_only=bool(demo_users)))
    for name, seed, make in runs:
        if (name, seed) in done:
            continue
        world = make()
        proof = prove_world(world, seed=seed)
        results.append(proof.to_dict())
        forecast, low, high = proof.forecast
        print(f"{world.name:<16} seed {seed}: {proof.learner:<8} share of oracle {proof.share_of_oracle:.3f}, "
              f"over {proof.best_blanket} {proof.gain_over_blanket:+.1%}, forecast {forecast:.0f} "
              f"[{low:.0f}, {high:.0f}] vs realized {proof.realized:.0f} ({proof.forecast_error:+.1%}), "
              f"calibrated sum {proof.predicted:.0f}, passed {proof.passed}", flush=True)
        out_path.write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
