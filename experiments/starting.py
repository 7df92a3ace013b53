"""Starting and assigning, the same at every door: users assigned behind the send gate, then a snapshot.

The CLI's `experiment start` / `experiment assign`, the page's Start and Assign buttons and the REST API call
`start_and_assign` and `assign_and_snapshot`, so an experiment changed anywhere shows its users per arm at once, in
the one experiment list every door reads (`experiments.listing.experiment_listing`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from experiments.choices import DEFAULT_CAP_WINDOW_DAYS, DEFAULT_CONTACT_CAP
from experiments.db import RegistryLike, open_registry
from experiments.definitions import Experiment, get_experiment
from experiments.lifecycle import start_experiment
from experiments.snapshots import take_snapshot
from experiments.targeting import AssignmentSummary, assign_users, read_cohort_ids


@dataclass(frozen=True)
class StartResult:
    """The running experiment, what assigning its target cohort did (None without a cohort) and the snapshot id."""

    experiment: Experiment
    assignment: AssignmentSummary | None
    snapshot_id: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line: 'wb-1 is running; 1,234 users of cohort at-risk assigned (...)'."""
        key = self.experiment.key
        if self.assignment is None:
            return f"{key} is running; it has no target cohort: assign users from a file"
        a = self.assignment
        left = [f"{n:,} {what}" for n, what in ((a.excluded_opt_out, "opted out"), (a.excluded_holdout, "in a "
                "programme holdout"), (a.excluded_layer, "in another experiment of the layer"),
                (a.excluded_contact_cap, "over the contact cap"), (a.outside_coverage, "outside coverage")) if n]
        return (f"{key} is running; {a.newly_assigned:,} users of cohort {self.experiment.target_cohort} assigned"
                + (f" ({', '.join(left)} left out)" if left else ""))


def start_and_assign(db: RegistryLike, key: str, *, actor: str | None = None) -> StartResult:
    """Start draft `key`, assign its target cohort (if it has one) behind the send gate, and snapshot it."""
    database = open_registry(db)
    cohort = get_experiment(key, database).target_cohort
    if cohort:
        read_cohort_ids(cohort, database)  # an empty or unknown cohort is refused before the experiment starts
    experiment = start_experiment(key, database, actor=actor)
    summary = assign_users(key, db=database, actor=actor) if experiment.target_cohort else None
    snapshot = take_snapshot(database, key, actor=actor)  # users per arm and health checks show at once
    return StartResult(experiment, summary, snapshot.id)


def assign_and_snapshot(db: RegistryLike, key: str, user_ids: Sequence[str] | None = None, *,
                        contact_cap: int = DEFAULT_CONTACT_CAP, cap_window_days: int = DEFAULT_CAP_WINDOW_DAYS,
                        actor: str | None = None) -> AssignmentSummary:
    """Assign users (default: the target cohort) to running experiment `key`, then snapshot it."""
    database = open_registry(db)
    summary = assign_users(key, None if user_ids is None else list(user_ids), db=database, contact_cap=contact_cap,
                           cap_window_days=cap_window_days, actor=actor)
    take_snapshot(database, key, actor=actor)
    return summary

