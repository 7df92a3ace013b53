"""The `winback` command line: one group per package, each defined in winback/commands/.

A command's module is imported when that command runs (or when a listing such as `winback --help` needs them all),
so `winback experiment list` does not pay for the analysis, churn or uplift modules it never calls (issue 24).
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator

import click

from winback import __version__

# forestci (pulled in by causalml) logs an error when the optional duecredit citation tool is absent.
logging.getLogger("duecredit").setLevel(logging.CRITICAL)

# command name -> (module, attribute), in the order `winback --help` lists them
COMMANDS: dict[str, tuple[str, str]] = {
    "treatment": ("winback.commands.experiments", "treatment"),
    "metric": ("winback.commands.experiments", "metric"),
    "experiment": ("winback.commands.experiments", "experiment"),
    "cohort": ("winback.commands.experiments", "cohort"),
    "optout": ("winback.commands.experiments", "optout"),
    "import": ("winback.commands.experiments", "imports"),
    "plan": ("winback.commands.plan", "plan"),
    "decide": ("winback.commands.experiments", "decide"),
    "analyze": ("winback.commands.analyze", "analyze"),
    "churn": ("winback.commands.churn", "churn"),
    "uplift": ("winback.commands.uplift", "uplift"),
    "allocate": ("winback.commands.uplift", "allocate"),
    "demo": ("winback.commands.demo", "demo"),
    "simulate": ("winback.commands.simulate", "simulate"),
    "warehouse": ("winback.commands.warehouse", "warehouse"),
    "serve": ("winback.commands.serve", "serve"),
    "user": ("winback.commands.users", "user"),
    "programme": ("winback.commands.programme", "programme"),
    "cycle": ("winback.commands.programme", "cycle"),
    "audit": ("winback.commands.audit", "audit"),
}


class LazyCommands(dict):
    """The group's commands, each imported on first use; listing them (iteration, items, len) imports them all."""

    def __init__(self, specs: dict[str, tuple[str, str]]) -> None:
        super().__init__()
        self.specs = dict(specs)

    def _load(self, name: str) -> None:
        if not dict.__contains__(self, name) and name in self.specs:
            module, attribute = self.specs[name]
            dict.__setitem__(self, name, getattr(importlib.import_module(module), attribute))

    def _load_all(self) -> None:
        for name in self.specs:
            self._load(name)

    def __getitem__(self, name: str) -> click.Command:
        self._load(name)
        return dict.__getitem__(self, name)

    def get(self, name: str, default=None):  # type: ignore[override]
        self._load(name)
        return dict.get(self, name, default)

    def __contains__(self, name: object) -> bool:
        return name in self.specs or dict.__contains__(self, name)

    def __iter__(self) -> Iterator[str]:
        self._load_all()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._load_all()
        return dict.__len__(self)

    def keys(self):  # type: ignore[override]
        self._load_all()
        return dict.keys(self)

    def values(self):  # type: ignore[override]
        self._load_all()
        return dict.values(self)

    def items(self):  # type: ignore[override]
        self._load_all()
        return dict.items(self)


class LazyGroup(click.Group):
    """A click group whose commands are the COMMANDS table, imported as they are needed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(COMMANDS)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="winback")
def cli() -> None:
    """Winback: catch customers who are slipping away and win them back at the lowest cost."""


if __name__ == "__main__":
    cli()
