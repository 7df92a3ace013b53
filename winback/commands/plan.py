"""`winback plan`: how many users an experiment needs, what the cohort can detect, and how many days it takes."""
from __future__ import annotations

import math

import click

from common.jsonable import dumps
from winback.cli_support import clean_errors, db_option


@click.command()
@click.option("--metric", required=True, help="The primary metric (its kind decides the test).")
@click.option("--weights", default="0.5,0.5", show_default=True,
              help="Arm weights, control first, comma separated (e.g. 0.4,0.3,0.3).")
@click.option("--mde", type=click.FloatRange(min=0, min_open=True, max=10), default=0.1, show_default=True,
              help="Minimum detectable effect, relative to the baseline (0.1 = +10%).")
@click.option("--baseline", type=click.FloatRange(min=0, max=1e12), default=None,
              help="The metric's baseline mean or rate (default: control arms of past experiments).")
@click.option("--variance", type=click.FloatRange(min=0, min_open=True, max=1e24), default=None,
              help="A continuous metric's variance (default: from past experiments).")
@click.option("--cohort", default=None, help="Target cohort: its size gives the detectable effect.")
@click.option("--daily-traffic", type=click.FloatRange(min=0, min_open=True, max=1e12), default=None,
              help="Eligible users per day (all arms), for the duration.")
@click.option("--alpha", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=0.05,
              show_default=True, help="Two-sided significance level.")
@click.option("--power", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=0.8,
              show_default=True, help="Chance to detect the MDE if it is real.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
@clean_errors
def plan(metric, weights, mde, baseline, variance, cohort, daily_traffic, alpha, power, as_json, db) -> None:
    """Plan an experiment before launch: users per arm for the MDE, the effect the cohort can detect, days."""
    from experiments.planning import plan_experiment

    try:
        parsed = [float(w) for w in weights.split(",")]
    except ValueError:
        raise click.BadParameter(f"'{weights}' is not a comma-separated list of numbers", param_hint="--weights") from None
    result = plan_experiment(db, metric, parsed, mde_relative=mde, baseline=baseline, variance=variance, cohort=cohort,
                             daily_traffic=daily_traffic, alpha=alpha, power=power)
    if as_json:
        click.echo(dumps(result))
        return
    kind = "rate" if result.binary else "mean"
    click.echo(f"Metric {result.metric}: baseline {kind} {result.baseline:.4g} ({result.baseline_source})")
    click.echo(f"To detect {result.mde_relative:+.1%} with {result.power:.0%} power at alpha {result.alpha:g}: "
               f"{result.n_total:,} users in all ({result.n_per_control:,} control, "
               f"{result.n_per_smallest_arm:,} in the smallest treatment arm)")
    if result.cohort_size is not None:
        detectable = "-" if math.isnan(result.detectable_relative) else f"{result.detectable_relative:+.1%}"
        click.echo(f"Cohort {cohort}: {result.cohort_size:,} users can detect {detectable}")
    if not math.isnan(result.days):
        click.echo(f"Duration at {result.daily_traffic:,.0f} eligible users a day: {result.days:.0f} days")
    for note in result.notes:
        click.echo(f"note: {note}")
