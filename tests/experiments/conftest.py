"""Fixtures: a real registry file in tmp_path with a small catalog and experiments."""
from __future__ import annotations

from pathlib import Path

import pytest

from experiments.catalog import Metric, Treatment, save_metric, save_treatment
from experiments.definitions import Arm, Experiment, create_experiment


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """An empty registry path; open_registry creates it on first use."""
    return tmp_path / "registry.db"


@pytest.fixture
def catalog_db(db_path: Path) -> Path:
    """A registry holding three treatments and the metrics retained, unsubscribed and revenue."""
    save_treatment(Treatment("coupon_10", "10% coupon", "coupon", 8.0), db_path)
    save_treatment(Treatment("vip_care", "VIP service call", "vip_service", 25.0, capacity=100), db_path)
    save_treatment(Treatment("reco_email", "Recommendations e-mail", "recommendation", 0.5), db_path)
    save_metric(Metric("retained", "binary"), db_path)
    save_metric(Metric("unsubscribed", "binary", higher_is_better=False), db_path)
    save_metric(Metric("revenue", "continuous"), db_path)
    return db_path


def _make_experiment(key: str = "winback-1", layer: str = "default", cohort: str | None = None, **kw) -> Experiment:
    """A three-arm experiment definition: control, coupon and recommendations."""
    arms = (
        Arm("control", None, 0.4, True),
        Arm("coupon", "coupon_10", 0.3),
        Arm("reco", "reco_email", 0.3),
    )
    return Experiment(key=key, name=f"Win back {key}", primary_metric="retained", arms=arms, layer=layer,
                      target_cohort=cohort, guardrail_metrics=("unsubscribed",), **kw)


@pytest.fixture
def make_experiment():
    """Factory for three-arm experiment definitions (control 0.4, coupon 0.3, reco 0.3)."""
    return _make_experiment


@pytest.fixture
def draft_db(catalog_db: Path) -> Path:
    """A registry with the draft experiment 'winback-1'."""
    create_experiment(_make_experiment(), catalog_db)
    return catalog_db
