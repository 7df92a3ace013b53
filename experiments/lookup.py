"""Messages for names that are not in the registry: what is known, and the closest match to a typo."""
from __future__ import annotations

import difflib
from collections.abc import Iterable

from experiments.errors import ExperimentError


def unknown_name(kind: str, name: str, known: Iterable[str], hint: str = "", where: str = "") -> ExperimentError:
    """An error naming the unknown `kind` `name` (in `where`), the closest known name and the known names."""
    names = sorted(set(known))
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    message = f"{where}: " if where else ""
    message += f"unknown {kind} '{name}'"
    if close:
        message += f" (did you mean '{close[0]}'?)"
    listed = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
    message += f"; known {kind}s: {listed or 'none'}"
    if hint:
        message += f"; {hint}"
    return ExperimentError(message)


def check_known(kind: str, name: str, known: Iterable[str], hint: str = "", where: str = "") -> None:
    """Raise `unknown_name` when `name` is not among `known`."""
    known = set(known)
    if name not in known:
        raise unknown_name(kind, name, known, hint, where)
