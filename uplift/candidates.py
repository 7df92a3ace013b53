"""The candidates the targeting chooses among: a learner with its LightGBM hyper-parameters, by name.

The grid runs from the presets (15 leaves of at least 50 users) to coarse, strongly regularised models
(4 leaves of at least 400 users, L2 penalty, more trees): effects that switch on where two features cross a
threshold are found by depth-2 trees with big leaves when an arm has only a few thousand users. Which
settings win is decided by the doubly robust value of each candidate's plan (`uplift.targeting`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from uplift.errors import UpliftError
from uplift.learners import LEARNERS, LearnerName, UpliftModel


@dataclass(frozen=True)
class Candidate:
    """A named learner and its hyper-parameters; `trees` multiplies the fit's number of trees."""

    name: str
    learner: LearnerName
    trees: float = 1.0
    params: dict[str, float] = field(default_factory=dict)  # num_leaves, min_child_samples, reg_lambda (, pairs: logit)

    def model(self, *, control: str, arm_weights: dict[str, float] | None, n_estimators: int,
              seed: int) -> UpliftModel:
        """An unfitted UpliftModel with these settings."""
        return UpliftModel(self.learner, control_name=control, arm_weights=arm_weights,
                           n_estimators=max(1, round(n_estimators * self.trees)), random_state=seed,
                           num_leaves=int(self.params["num_leaves"]) if "num_leaves" in self.params else None,
                           min_child_samples=int(self.params["min_child_samples"])
                           if "min_child_samples" in self.params else None,
                           reg_lambda=float(self.params.get("reg_lambda", 0.0)), pairs=bool(self.params.get("pairs", 0)))


COARSE = {"num_leaves": 4, "min_child_samples": 400, "reg_lambda": 10.0}
PRESETS: dict[str, Candidate] = {
    **{name: Candidate(name, name) for name in LEARNERS},  # type: ignore[arg-type]  # LEARNERS holds LearnerName
    "s_coarse": Candidate("s_coarse", "s", 4.0, COARSE),
    "t_coarse": Candidate("t_coarse", "t", 2.0, {**COARSE, "min_child_samples": 200}),
    "x_coarse": Candidate("x_coarse", "x", 2.0, {**COARSE, "min_child_samples": 200}),
    "dr_coarse": Candidate("dr_coarse", "dr", 2.0, {**COARSE, "reg_lambda": 50.0}),
    "pseudo_forest": Candidate("pseudo_forest", "pseudo_forest", 2.0),  # 200 bagged depth-2 trees
    "logit_pairs": Candidate("logit_pairs", "logit", 1.0, {"pairs": 1}),
    "logit_strong": Candidate("logit_strong", "logit", 1.0, {"reg_lambda": 500.0}),
}
# What `uplift fit --learner auto` compares (and their average).
DEFAULT_CANDIDATES: tuple[str, ...] = ("s", "s_coarse", "pseudo_forest", "pseudo_rules", "logit")


def candidate(name: str) -> Candidate:
    """The preset called `name`; the error lists them."""
    if name not in PRESETS:
        raise UpliftError(f"unknown candidate learner '{name}'; choose from {', '.join(PRESETS)}")
    return PRESETS[name]
