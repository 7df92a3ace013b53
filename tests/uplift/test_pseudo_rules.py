"""Bagged two-feature rules on the transformed outcome (issue 25): effects that live where two features meet."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from uplift.candidates import candidate
from uplift.errors import UpliftError
from uplift.learners import UpliftModel
from uplift.pseudo_rules import PseudoOutcomeRules, best_rule, feature_bins, rule_members

WEIGHTS = {"control": 0.5, "bundle": 0.5}


def conjunction(n: int = 20_000, seed: int = 0, share: float = 0.5, effect_size: float = 0.12
                ) -> tuple[pd.DataFrame, np.ndarray]:
    """'bundle' (given to `share` of users) helps silver users who bought in three or more categories (about 10 % of
    users) and nobody else: neither feature alone shows much of it (the segment world's bundle,
    simulator/small_worlds.py)."""
    rng = np.random.default_rng(seed)
    tier = rng.choice(["bronze", "silver", "gold", "platinum"], n, p=[0.45, 0.3, 0.17, 0.08])
    categories = rng.poisson(2, n)
    arm = rng.choice(["control", "bundle"], n, p=[1 - share, share])
    effect = np.where((tier == "silver") & (categories >= 3), effect_size, 0.0)
    p = 0.35 + 0.05 * (tier != "bronze") + 0.02 * categories + np.where(arm == "bundle", effect, 0.0)
    frame = pd.DataFrame({"tier": tier, "categories": categories, "spend": rng.lognormal(4, 0.7, n),
                          "noise": rng.normal(size=n), "arm": arm, "y": (rng.random(n) < np.clip(p, 0, 1)).astype(int)})
    return frame, effect


def fitted(name: str, frame: pd.DataFrame, weights: dict[str, float] = WEIGHTS) -> pd.Series:
    X = frame[["tier", "categories", "spend", "noise"]]
    model = candidate(name).model(control="control", arm_weights=weights, n_estimators=100, seed=0)
    return model.fit(X, frame["y"], treatment=frame["arm"]).predict(X)["bundle"]


def test_the_rules_recover_a_conjunction():
    frame, effect = conjunction()
    rules = fitted("pseudo_rules", frame)
    inside = effect > 0
    assert rules[inside].mean() - rules[~inside].mean() > 0.06  # the true gap is 0.12; bagging blurs the edge
    assert np.corrcoef(rules, effect)[0, 1] > 0.8


def test_on_a_small_arm_the_rules_find_the_conjunction_more_often_than_the_forest():
    # 15,000 users, 40 % treated, +0.10 in the cell, four experiments: the forest must reach the cell through a
    # first split on tier or on categories alone, where the effect is a third of its size; the rules score the cell.
    rules, forest = [], []
    for seed in range(4):
        frame, effect = conjunction(15_000, seed, share=0.4, effect_size=0.10)
        weights = {"control": 0.6, "bundle": 0.4}
        rules.append(np.corrcoef(fitted("pseudo_rules", frame, weights), effect)[0, 1])
        forest.append(np.corrcoef(fitted("pseudo_forest", frame, weights), effect)[0, 1])
    # measured: rules 0.31, 0.66, 0.64, 0.67; forest 0.13, 0.30, 0.59, 0.35
    assert np.mean(rules) > np.mean(forest) + 0.15
    assert sum(r > f for r, f in zip(rules, forest)) >= 3


def test_the_bincount_scoring_picks_the_rule_a_brute_force_search_picks():
    # Every atom pair (and single atom) of three small features scored with explicit masks: the same rule, the
    # same inside and outside means.
    rng = np.random.default_rng(5)
    n = 3_000
    X = np.column_stack([rng.integers(0, 4, n).astype(float), rng.random(n), rng.poisson(2, n).astype(float)])
    X[rng.random(n) < 0.05, 1] = np.nan  # missing numbers sit in no atom but 'any'
    features = [feature_bins(X[:, 0], True), feature_bins(X[:, 1], False), feature_bins(X[:, 2], False)]
    bins = np.column_stack([f.bin_of(X[:, j]) for j, f in enumerate(features)])
    residual = rng.normal(size=n) + np.where((X[:, 0] == 2) & (X[:, 2] >= 3), 0.8, 0.0)
    weights = rng.poisson(1.0, n).astype(float)
    min_leaf = weights.sum() / 15
    rule = best_rule(bins, features, weights, residual, min_leaf)
    assert rule is not None
    best = (-np.inf, None)
    for a, b in itertools.combinations(range(3), 2):
        for i, j in itertools.product(range(len(features[a].atoms)), range(len(features[b].atoms))):
            mask = (features[a].atoms[i][bins[:, a]] > 0) & (features[b].atoms[j][bins[:, b]] > 0)
            w_in, w_out = weights[mask].sum(), weights[~mask].sum()
            if (i, j) == (0, 0) or w_in < min_leaf or w_out < min_leaf:
                continue
            m_in, m_out = (weights * residual)[mask].sum() / w_in, (weights * residual)[~mask].sum() / w_out
            gain = (m_in - m_out) ** 2 * w_in * w_out / weights.sum()
            if gain > best[0]:
                best = (gain, (a, i, b, j, m_in, m_out))
    a, i, b, j, m_in, m_out = best[1]
    members = rule_members(bins, features, rule)
    brute = (features[a].atoms[i][bins[:, a]] > 0) & (features[b].atoms[j][bins[:, b]] > 0)
    assert np.array_equal(members, brute)
    assert (rule.inside, rule.outside) == pytest.approx((m_in, m_out), rel=1e-9)
    assert members.sum() < n / 4 and np.mean(X[members, 0] == 2) == 1.0  # it found the planted cell's category


def test_unseen_categories_and_missing_numbers_fall_outside_every_set():
    frame, _ = conjunction(6_000)
    X = frame[["tier", "categories"]]
    model = UpliftModel("pseudo_rules", arm_weights=WEIGHTS).fit(X, frame["y"], treatment=frame["arm"])
    assert model.n_categorical_ == 1
    tier_bins = model.model_.features_[0]
    unseen = tier_bins.bin_of(np.array([np.nan]))[0]
    assert unseen == tier_bins.n_bins - 1
    assert tier_bins.atoms[:, unseen].tolist() == [1.0] + [0.0] * 4 + [1.0] * 4  # 'any', no level, every complement
    scored = model.predict(pd.DataFrame({"tier": ["diamond", "silver"], "categories": [np.nan, 4]}))
    assert scored.shape == (2, 1) and np.isfinite(scored.to_numpy()).all()


def test_a_treatment_without_a_propensity_is_refused():
    X = np.random.default_rng(0).random((200, 1))
    arm = np.array(["control", "t", "u", "control"] * 50)
    with pytest.raises(UpliftError, match="no propensity for treatment"):
        PseudoOutcomeRules({"t": 0.5}).fit(X, arm, np.ones(200))


def test_a_column_of_many_categories_keeps_its_most_frequent_levels_and_an_empty_one_has_only_any():
    rng = np.random.default_rng(2)
    codes = np.concatenate([np.repeat(np.arange(40.0), np.arange(40, 0, -1)), [np.nan] * 5])  # level 0 most frequent
    bins = feature_bins(rng.permutation(codes), categorical=True)
    assert bins.cuts.tolist() == list(np.arange(32.0))  # the 32 most frequent levels
    rare = bins.bin_of(np.array([39.0, 35.0, np.nan]))
    assert (rare == bins.n_bins - 1).all()  # with the missing: in no level's set, in every complement
    empty = feature_bins(np.array([np.nan, np.nan]), categorical=True)
    assert empty.atoms.tolist() == [[1.0]] and empty.bin_of(np.array([3.0, np.nan])).tolist() == [0, 0]
