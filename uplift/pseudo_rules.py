"""Bagged two-feature rules on each treatment's transformed outcome: effects that live where two features meet.

An effect such as "silver users who buy in three or more categories" has almost no trace in either feature
alone, so a tree that must pick its first split greedily (`uplift.pseudo_forest`) rarely finds it in a small
arm. Here every rule `feature A in set a AND feature B in set b` is scored at once: each feature is cut into
bins (category codes; deciles of numbers, as `≤ cut` and `> cut`), the weighted counts and sums of the
transformed outcome Z (`uplift.pseudo_forest.transformed_outcome`, whose mean given x is the uplift) over
every pair of features' bins are two `np.bincount`s, and the counts and sums of every rule of that pair are
small matrix products of them. The rule whose inside and outside means of Z differ most (the between-group
sum of squares, with at least 1/15 of the users on each side) is kept, Z is residualised on it, and a second
rule is found the same way. Bagging 20 Poisson bootstraps averages out the rules noise picks. It works for
0/1 and continuous outcomes; a category the fit never saw (or beyond a column's 32 most frequent) is outside
every `in` set. The work grows with the square of the number of features (every pair is scored).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uplift.pseudo_forest import pair_outcomes

BAGS, RULES_PER_BAG = 20, 2
LEAF_SHARE = 15  # each side of a rule holds at least 1/15 of the arm pair's users
CUTS = np.linspace(0.1, 0.9, 9)  # numbers are cut at their deciles
MAX_LEVELS = 32  # a category column's most frequent levels get sets of their own; the rest only complements


@dataclass(frozen=True)
class FeatureBins:
    """How one feature's values map to bins, and the bin sets (atoms) rules are made of: row 0 is 'any value'."""

    categorical: bool
    cuts: np.ndarray  # numbers: the decile cuts; categories: the codes seen in the fit
    atoms: np.ndarray  # atoms × bins, 0/1

    @property
    def n_bins(self) -> int:
        return self.atoms.shape[1]

    def bin_of(self, x: np.ndarray) -> np.ndarray:
        """The bin of each value; a missing value (or an unseen category) gets the last bin, in no atom but 'any'."""
        missing = len(self.cuts) if self.categorical else len(self.cuts) + 1
        if self.categorical:
            known = np.isin(x, self.cuts)
            out = np.searchsorted(self.cuts, np.where(known, x, self.cuts[0] if len(self.cuts) else 0.0))
            return np.where(known, out, missing).astype(np.int64)
        return np.where(np.isnan(x), missing, np.searchsorted(self.cuts, x, side="left")).astype(np.int64)


def feature_bins(x: np.ndarray, categorical: bool) -> FeatureBins:
    """A feature's bins and atoms: each category and its complement, or each decile cut's two sides."""
    present = x[~np.isnan(x)]
    if categorical:
        levels_seen, counts = np.unique(present, return_counts=True)
        cuts = np.sort(levels_seen[np.argsort(-counts, kind="stable")[:MAX_LEVELS]])  # rarer ones: in no level set
        n_bins = len(cuts) + 1
        levels = np.eye(len(cuts), n_bins)
        complements = np.ones((len(cuts), n_bins)) - levels
        atoms = np.vstack([np.ones((1, n_bins)), levels, complements])
    else:
        cuts = np.unique(np.quantile(present, CUTS)) if len(present) else np.zeros(0)
        n_bins = len(cuts) + 2  # below or at each cut, above the last, missing
        index, cut = np.arange(n_bins)[None, :], np.arange(len(cuts))[:, None]
        below = (index <= cut).astype(float)
        above = ((index > cut) & (index <= len(cuts))).astype(float)
        atoms = np.vstack([np.ones((1, n_bins)), below, above])
    return FeatureBins(categorical, cuts, atoms)


@dataclass(frozen=True)
class Rule:
    """`feature_a in atom a AND feature_b in atom b`; users inside get `inside` added, the others `outside`."""

    feature_a: int
    atom_a: int
    feature_b: int
    atom_b: int
    inside: float
    outside: float


def best_rule(bins: np.ndarray, features: list[FeatureBins], weights: np.ndarray, residual: np.ndarray,
              min_leaf: float) -> Rule | None:
    """The rule over any one feature or pair of features whose inside and outside mean residual differ most."""
    weighted = weights * residual
    total_w, total_s = float(weights.sum()), float(weighted.sum())
    best: tuple[float, Rule] | None = None
    for a in range(len(features)):
        for b in range(a + 1 if len(features) > 1 else a, len(features)):  # one feature: its own atoms, paired
            fa, fb = features[a], features[b]
            cell = bins[:, a] * fb.n_bins + bins[:, b]
            size = fa.n_bins * fb.n_bins
            count = np.bincount(cell, weights=weights, minlength=size).reshape(fa.n_bins, fb.n_bins)
            summed = np.bincount(cell, weights=weighted, minlength=size).reshape(fa.n_bins, fb.n_bins)
            n_in = fa.atoms @ count @ fb.atoms.T
            s_in = fa.atoms @ summed @ fb.atoms.T
            n_out = total_w - n_in
            with np.errstate(divide="ignore", invalid="ignore"):
                gap = s_in / n_in - (total_s - s_in) / n_out
                gain = gap**2 * n_in * n_out / total_w
            gain[(n_in < min_leaf) | (n_out < min_leaf)] = -np.inf
            gain[0, 0] = -np.inf  # 'any' and 'any' is everyone
            i, j = np.unravel_index(int(np.argmax(gain)), gain.shape)
            if np.isfinite(gain[i, j]) and (best is None or gain[i, j] > best[0]):
                inside = float(s_in[i, j] / n_in[i, j])
                outside = float((total_s - s_in[i, j]) / n_out[i, j])
                best = (float(gain[i, j]), Rule(a, int(i), b, int(j), inside, outside))
    return None if best is None else best[1]


def rule_members(bins: np.ndarray, features: list[FeatureBins], rule: Rule) -> np.ndarray:
    """Which users a rule holds."""
    in_a = features[rule.feature_a].atoms[rule.atom_a][bins[:, rule.feature_a]] > 0
    in_b = features[rule.feature_b].atoms[rule.atom_b][bins[:, rule.feature_b]] > 0
    return in_a & in_b


class PseudoOutcomeRules:
    """`fit(X, treatment, y)` and `predict(X)` (n × treatments, sorted), the interface UpliftModel gives causalml's
    learners. X holds category codes in the `categorical` columns and numbers elsewhere."""

    def __init__(self, propensity: dict[str, float], control_name: str = "control", bags: int = BAGS,
                 rules_per_bag: int = RULES_PER_BAG, categorical: list[int] | None = None, seed: int = 0):
        self.propensity = propensity  # P(t | t or control), known from the arm weights
        self.control_name = control_name
        self.bags = bags
        self.rules_per_bag = rules_per_bag
        self.categorical = categorical or []
        self.seed = seed

    def _bins(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([f.bin_of(X[:, j]) for j, f in enumerate(self.features_)])

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> PseudoOutcomeRules:
        data = pair_outcomes(X, treatment, y, control=self.control_name, propensity=self.propensity,
                             categorical=self.categorical, seed=self.seed)
        self.treatments_ = data.treatments
        self.features_ = [feature_bins(data.X[:, j], j in self.categorical) for j in range(data.X.shape[1])]
        bins = self._bins(data.X)
        rng = np.random.default_rng(self.seed)
        self.bagged_: dict[str, list[tuple[float, list[Rule]]]] = {}
        for t in self.treatments_:
            rows, z = data.rows[t], data.z[t]
            pair_bins, min_leaf = bins[rows], max(20, int(rows.sum()) // LEAF_SHARE)
            bags = []
            for _ in range(self.bags):
                weights = rng.poisson(1.0, len(z)).astype(float) if self.bags > 1 else np.ones(len(z))
                mean = float((weights * z).sum() / max(weights.sum(), 1.0))
                residual, rules = z - mean, []
                for _ in range(self.rules_per_bag):
                    rule = best_rule(pair_bins, self.features_, weights, residual, min_leaf)
                    if rule is None:
                        break
                    rules.append(rule)
                    residual = residual - np.where(rule_members(pair_bins, self.features_, rule), rule.inside,
                                                   rule.outside)
                bags.append((mean, rules))
            self.bagged_[t] = bags
        return self

    def predict(self, X: np.ndarray, **_: object) -> np.ndarray:
        """The bagged rules' uplift estimate per user, one column per treatment (sorted)."""
        bins = self._bins(np.asarray(X, float))
        columns = []
        for t in self.treatments_:
            total = np.zeros(len(bins))
            for mean, rules in self.bagged_[t]:
                total += mean
                for rule in rules:
                    total += np.where(rule_members(bins, self.features_, rule), rule.inside, rule.outside)
            columns.append(total / len(self.bagged_[t]))
        return np.column_stack(columns)
