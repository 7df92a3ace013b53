"""The small, regularised LightGBM base model every uplift learner builds on (quiet, one thread, bagged rows and
columns), in one place so the learners' outcome, effect and baseline models share their settings."""
from __future__ import annotations

from typing import Literal, overload

from lightgbm import LGBMClassifier, LGBMRegressor


@overload
def lgbm_model(kind: Literal["classifier"], n_estimators: int, learning_rate: float, seed: int, num_leaves: int = ...,
               min_child_samples: int = ..., reg_lambda: float = ...) -> LGBMClassifier: ...
@overload
def lgbm_model(kind: Literal["regressor"], n_estimators: int, learning_rate: float, seed: int, num_leaves: int = ...,
               min_child_samples: int = ..., reg_lambda: float = ...) -> LGBMRegressor: ...
@overload
def lgbm_model(kind: Literal["classifier", "regressor"], n_estimators: int, learning_rate: float, seed: int,
               num_leaves: int = ..., min_child_samples: int = ..., reg_lambda: float = ...
               ) -> LGBMClassifier | LGBMRegressor: ...


def lgbm_model(kind: Literal["classifier", "regressor"], n_estimators: int, learning_rate: float, seed: int,
               num_leaves: int = 15, min_child_samples: int = 50, reg_lambda: float = 0.0) -> LGBMClassifier | LGBMRegressor:
    """A small, regularised LightGBM base model (quiet, one thread)."""
    cls = LGBMClassifier if kind == "classifier" else LGBMRegressor
    return cls(
        n_estimators=n_estimators, learning_rate=learning_rate, num_leaves=num_leaves,
        min_child_samples=min_child_samples, reg_lambda=reg_lambda,
        subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=seed, n_jobs=1, verbose=-1,
    )
