"""The `winback` command line: one group per package, each defined in winback/commands/."""
from __future__ import annotations

import logging

import click

from winback import __version__
from winback.commands.analyze import analyze
from winback.commands.audit import audit
from winback.commands.churn import churn
from winback.commands.demo import demo
from winback.commands.experiments import (
    cohort,
    decide,
    experiment,
    imports,
    metric,
    optout,
    treatment,
)
from winback.commands.plan import plan
from winback.commands.programme import cycle, programme
from winback.commands.serve import serve
from winback.commands.simulate import simulate
from winback.commands.uplift import allocate, uplift
from winback.commands.users import user
from winback.commands.warehouse import warehouse

# forestci (pulled in by causalml) logs an error when the optional duecredit citation tool is absent.
logging.getLogger("duecredit").setLevel(logging.CRITICAL)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="winback")
def cli() -> None:
    """Winback: catch customers who are slipping away and win them back at the lowest cost."""


for command in (treatment, metric, experiment, cohort, optout, imports, plan, decide, analyze, churn, uplift, allocate,
                demo, simulate, warehouse, serve, user, programme, cycle):
    cli.add_command(command)
cli.add_command(audit)


if __name__ == "__main__":
    cli()
