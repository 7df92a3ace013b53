"""What the segment family's experiments hold: a plan from uplift estimated in the true cells of every effect.

    PYTHONPATH=. .venv/bin/python scripts/segment_ceiling.py [--seeds 0,1,2,3,4]

For each seed, as `scripts/small_worlds_proof.py` draws it: each treatment's uplift in each cell that defines its
effect (`simulator.small_worlds.segment_world`, e.g. gold or platinum users of the north or east for the gift) is
estimated by the difference of the cell's treated and control retention in the experiment. The population's plan
from those estimates is judged against the oracle, as the proof judges the fitted model's plan. This learner is
told the structure no real learner knows; it shows whether the experiment holds the information (it does) or
whether finding the cells is what fails.
"""
from __future__ import annotations

import click
import numpy as np
import pandas as pd

from simulator.small_worlds import FAMILIES
from simulator.targeting_proof import true_retained
from simulator.worlds import CONTROL


def true_cells(features: pd.DataFrame) -> dict[str, np.ndarray]:
    """The cell of each user for each treatment's effect, as segment_world defines the effects."""
    on_app = (features["device"] != "web").to_numpy()
    app_days = features["days_since_app_open"].to_numpy(float)
    tier, region = features["tier"].to_numpy(), features["region"].to_numpy()
    return {
        "gift": (np.isin(tier, ["gold", "platinum"]) & np.isin(region, ["north", "east"])).astype(int),
        "app_push": np.where(on_app & (app_days < 14), 2, np.where(on_app & (app_days > 60), 1, 0)),
        "bundle": ((features["categories_bought"].to_numpy() >= 3) & (tier == "silver")).astype(int),
        "survey": features["complaint_90d"].to_numpy(int),
        "null_offer": np.zeros(len(features), dtype=int),
    }


def cell_share(seed: int) -> float:
    """The share of the oracle the plan from cell-estimated uplift reaches on the population."""
    family = FAMILIES["segment"]
    world = family.make(family.n_experiment + family.n_plan, seed)
    data = world.randomize(seed)
    experiment, population = data.iloc[:family.n_experiment], data.iloc[family.n_experiment:].reset_index(drop=True)
    truth = world.truth.iloc[family.n_experiment:].reset_index(drop=True)
    budget = world.budget_per_user * family.n_plan
    known, planned = true_cells(experiment), true_cells(population)
    arm, retained = experiment["arm"].to_numpy(), experiment["retained"].to_numpy(float)
    estimated = pd.DataFrame(0.0, index=population.index, columns=truth.columns)
    for treatment in truth.columns:
        for cell in np.unique(known[treatment]):
            mine = known[treatment] == cell
            effect = retained[mine & (arm == treatment)].mean() - retained[mine & (arm == CONTROL)].mean()
            estimated.loc[planned[treatment] == cell, treatment] = effect
    oracle = true_retained(truth, truth, world, budget, {})[0]
    return true_retained(estimated, truth, world, budget, {})[0] / oracle


@click.command()
@click.option("--seeds", default="0,1,2,3,4", show_default=True, help="Comma-separated world seeds.")
def main(seeds: str) -> None:
    """One line per seed: the share of the oracle of the plan from uplift estimated in the true cells."""
    for seed in (int(s) for s in seeds.split(",") if s.strip()):
        click.echo(f"segment seed {seed}: true cells, effects estimated from the experiment: {cell_share(seed):.3f} "
                   "of the oracle")


if __name__ == "__main__":
    main()
