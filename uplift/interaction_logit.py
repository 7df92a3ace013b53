"""A parametric uplift learner for small experiments: one penalised logistic regression over every arm.

The features are cut into quantile bins (a 0/1 column stays one indicator; a missing value is a bin of its own,
and sits at the mean in the linear term) and every pair of features into
the cells of their bins, so an effect that switches on where two features cross a threshold is one cell.
The baseline (what retains a user untreated) is learned from every user of every arm; each treatment adds its
own intercept and its own copy of the same terms, switched on for its users only. The L2 penalty on those
copies is `effect_penalty` times the baseline's (a column scaled by s is penalised 1/s²), so a treatment's
effect is shrunk toward one constant uplift unless its users show otherwise: the shrinkage of noisy per-arm
effects that a few thousand users per arm need. Effects on the logit scale may be negative, so a treatment
that harms some users is predicted to. The matrix is sparse (scipy) and the fit is lbfgs (scikit-learn).

Uplift of treatment t for a user = P(retained | t) − P(retained | control), both from the same model.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from uplift.errors import UpliftError

INTERCEPT_SCALE = 10.0  # a treatment's own intercept is scaled up: almost unpenalised


class InteractionLogit:
    """`fit(X, treatment, y)` and `predict(X)` (n × treatments, sorted), the interface UpliftModel gives causalml's learners."""

    def __init__(self, control_name: str = "control", bins: int = 5, pairs: bool = True, C: float = 0.05,
                 effect_penalty: float = 4.0, pair_scale: float = 0.5, max_iter: int = 400):
        self.control_name = control_name
        self.bins = bins
        self.pairs = pairs
        self.C = C
        self.effect_penalty = effect_penalty
        self.pair_scale = pair_scale
        self.max_iter = max_iter

    def _basis(self, X: np.ndarray) -> sparse.csr_matrix:
        """Standardised columns, bin indicators and (with `pairs`) the cells of every pair of binned features."""
        n = len(X)
        codes = np.empty((n, X.shape[1]), dtype=np.int64)
        missing = np.isnan(X)
        for j, edges in enumerate(self.edges_):
            codes[:, j] = np.where(missing[:, j], len(edges) + 1, np.searchsorted(edges, X[:, j], side="left"))
        blocks = [sparse.csr_matrix((np.where(missing, self.center_, X) - self.center_) / self.scale_)]
        offsets = np.concatenate([[0], np.cumsum(self.levels_)[:-1]])
        rows = np.repeat(np.arange(n), X.shape[1])
        blocks.append(sparse.csr_matrix((np.ones(rows.size), (rows, (codes + offsets).ravel())),
                                        shape=(n, int(self.levels_.sum()))))
        if self.pairs:
            first, second = np.triu_indices(X.shape[1], k=1)
            sizes = self.levels_[first] * self.levels_[second]
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            cells = codes[:, first] * self.levels_[second] + codes[:, second] + starts
            rows = np.repeat(np.arange(n), len(first))
            blocks.append(self.pair_scale * sparse.csr_matrix(
                (np.ones(rows.size), (rows, cells.ravel())), shape=(n, int(sizes.sum()))))
        return sparse.hstack(blocks, format="csr")

    def _design(self, basis: sparse.csr_matrix, arm: np.ndarray) -> sparse.csr_matrix:
        """The baseline terms, then per treatment its intercept and its scaled copy of the terms for its users."""
        scale = 1.0 / np.sqrt(self.effect_penalty)
        blocks = [basis]
        for t in self.treatments_:
            mine = sparse.diags((arm == t).astype(float))
            blocks += [sparse.csr_matrix((arm == t).astype(float)[:, None] * INTERCEPT_SCALE), scale * (mine @ basis)]
        return sparse.hstack(blocks, format="csr")

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> InteractionLogit:
        X, arm, y = np.asarray(X, float), np.asarray(treatment).astype(str), np.asarray(y, float)
        if not np.isin(np.unique(y), [0, 1]).all():
            raise UpliftError("the interaction logit needs a 0/1 outcome; use learner s, t, x or dr for continuous outcomes")
        self.treatments_ = sorted(set(arm) - {self.control_name})
        if np.isnan(X).all(axis=0).any():
            raise UpliftError("a feature column is missing for every user; drop it before fitting the logit learner")
        self.center_ = np.nanmean(X, axis=0)
        self.scale_ = np.nanstd(X, axis=0) + 1e-12
        quantiles = np.linspace(0, 1, self.bins + 1)[1:-1]
        self.edges_ = []
        for j in range(X.shape[1]):
            seen = X[:, j][~np.isnan(X[:, j])]
            self.edges_.append(np.unique(np.quantile(seen, quantiles)) if len(np.unique(seen[:1000])) > 2
                               else np.array([0.5 * (seen.min() + seen.max())]))
        # Each feature's bins, then one for a missing value (empty when none is missing).
        self.levels_ = np.array([len(e) + 2 for e in self.edges_], dtype=np.int64)
        design = self._design(self._basis(X), arm)
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter, solver="lbfgs")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lbfgs' convergence warning: the penalty, not the iterations, sets the fit
            self.model_.fit(design, y.astype(int))
        return self

    def predict(self, X: np.ndarray, **_: object) -> np.ndarray:
        """P(retained | treatment) − P(retained | control) per user, one column per treatment (sorted)."""
        basis = self._basis(np.asarray(X, float))
        n = basis.shape[0]
        control = self.model_.predict_proba(self._design(basis, np.full(n, self.control_name)))[:, 1]
        return np.column_stack([self.model_.predict_proba(self._design(basis, np.full(n, t)))[:, 1] - control
                                for t in self.treatments_])
