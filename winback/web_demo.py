"""The web UI's demo: the demo registry, one login per role and a first analysis snapshot to look at."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from experiments.db import registry
from experiments.snapshots import take_snapshot
from experiments.users import ROLES, add_user, get_user, set_password

DEMO_EXPERIMENT = "demo-winback"


@dataclass(frozen=True)
class WebDemo:
    """What `winback serve --demo` prints: the pipeline summary and the demo logins (name → password)."""

    db: str
    logins: dict[str, tuple[str, str]] = field(default_factory=dict)  # name → (role, password)
    lines: list[str] = field(default_factory=list)


def demo_logins(db: str | os.PathLike[str]) -> dict[str, tuple[str, str]]:
    """One user per role (growth, finance, strategy, admin) with a fresh random password each run."""
    logins = {}
    with registry(db) as database:
        for role in ROLES:
            name, password = f"demo-{role}", secrets.token_urlsafe(9)
            if get_user(database, name) is None:
                add_user(database, name, password, role, actor="winback serve --demo")
            else:
                set_password(database, name, password, actor="winback serve --demo")
            logins[name] = (role, password)
    return logins


def build_web_demo(db: str | os.PathLike[str], *, n_users: int = 20_000, seed: int = 7,
                   progress: bool = True) -> WebDemo:
    """Run the demo pipeline into `db`, snapshot its experiment (overall and by stage) and make the logins."""
    from winback.demo import run_demo

    db = Path(db)
    summary = run_demo(db, n_users=n_users, seed=seed, workdir=db.parent / f"{db.stem}-demo-files", progress=progress)
    with registry(db) as database:
        for segment in (None, "stage"):
            take_snapshot(database, DEMO_EXPERIMENT, segment_by=segment, actor="winback serve --demo")
    return WebDemo(str(db), demo_logins(db), summary.lines)
