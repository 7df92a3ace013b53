"""Raw learners on the small-world families: each preset fitted on the whole experiment, its uncalibrated uplift
planned for the population and judged on the true effects (share of the oracle). How issue 25's third round
compared learners, on world seeds 100-102 (not the proof's seeds 0-4).

    PYTHONPATH=. .venv/bin/python scripts/raw_learner_shares.py [--families threshold,segment] [--seeds 100,101,102]
        [--learners s_coarse,logit,t_coarse,pseudo_forest]
"""
from __future__ import annotations

import time

import click

from simulator.small_worlds import FAMILIES
from simulator.targeting_proof import true_retained
from simulator.worlds import CONTROL
from uplift.candidates import candidate


def raw_shares(family: str, seed: int, learners: list[str]) -> dict[str, tuple[float, float]]:
    """Each learner's raw plan for the family's population as a share of the oracle, on world `seed`, and the
    seconds its fit took."""
    spec = FAMILIES[family]
    world = spec.make(spec.n_experiment + spec.n_plan, seed)
    data = world.randomize(seed)
    features = [c for c in world.features.columns if c != "user_id"]
    experiment, population = data.iloc[:spec.n_experiment], data.iloc[spec.n_experiment:][features]
    truth = world.truth.iloc[spec.n_experiment:].reset_index(drop=True)
    budget = world.budget_per_user * spec.n_plan
    capacity = {k: int(v * spec.n_plan / len(data)) for k, v in world.capacity.items()}
    oracle = true_retained(truth, truth, world, budget, capacity)[0]
    shares = {}
    for name in learners:
        started = time.perf_counter()
        model = candidate(name).model(control=CONTROL, arm_weights=world.arm_weights, n_estimators=100, seed=0)
        model.fit(experiment[features], experiment["retained"], treatment=experiment["arm"])
        seconds = time.perf_counter() - started
        predicted = model.predict(population.reset_index(drop=True))[truth.columns]
        shares[name] = (true_retained(predicted, truth, world, budget, capacity)[0] / oracle, seconds)
    return shares


def _names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@click.command()
@click.option("--families", default="threshold,dose,segment", show_default=True)
@click.option("--seeds", default="100,101,102", show_default=True)
@click.option("--learners", default="s_coarse,logit,t_coarse,pseudo_forest", show_default=True)
def main(families: str, seeds: str, learners: str) -> None:
    """One line per family × seed: each learner's raw share of the oracle and fit time."""
    for family in _names(families):
        for seed in map(int, _names(seeds)):
            shares = raw_shares(family, seed, _names(learners))
            click.echo(f"{family:<9} seed {seed}: " + "  ".join(f"{k} {v:.3f} (fit {t:.1f} s)" for k, (v, t) in shares.items()))


if __name__ == "__main__":
    main()
