"""`winback simulate`: a simulated shop to try the whole loop on, and the outcomes its experiment would produce.

The simulator knows each user's hidden traits and the true effect of the demo treatments (coupon_10,
vip_care, reco_email, care_content), so what Winback measures can be checked against what really happened.
"""
from __future__ import annotations

from datetime import UTC

import click

from winback.cli_support import clean_errors, db_option

SHOP_TRUTH = "users_truth.parquet"


@click.group()
def simulate() -> None:
    """A simulated shop (events with a hidden truth) and its experiments' deliveries and outcomes."""


@simulate.command("shop")
@click.option("--users", "n_users", type=click.IntRange(min=100, max=5_000_000), default=5000, show_default=True,
              help="How many customers.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed (each seed is another shop).")
@click.option("--as-of", default=None, help="The shop's today: events end here (default: today, UTC).")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True,
              help="Folder for events.csv and the hidden truth (users_truth.parquet).")
def simulate_shop(n_users: int, seed: int, as_of: str | None, out: str) -> None:
    """Simulate a shop's behaviour events (24 kinds) up to --as-of; writes events.csv and the hidden truth."""
    from pathlib import Path

    import pandas as pd

    from simulator.shop import generate_shop

    day = pd.Timestamp(as_of) if as_of else pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
    shop = generate_shop(n_users, seed=seed, as_of=str(day.date()))
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    events = shop.events.assign(ts=shop.events["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S"))
    events.to_csv(folder / "events.csv", index=False)
    shop.users.assign(as_of=str(day.date())).to_parquet(folder / SHOP_TRUTH, index=False)
    first, last = shop.events["ts"].min().date(), shop.events["ts"].max().date()  # the shop's today has no events yet
    click.echo(f"shop: {len(shop.users):,} users, {len(events):,} events from {first} to {last} (the day before "
               f"--as-of {day.date()}) in {folder / 'events.csv'}")


@simulate.command("outcomes")
@click.argument("key")
@click.option("--shop", "shop_dir", type=click.Path(file_okay=False, exists=True), required=True,
              help="The folder `winback simulate shop` wrote.")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True,
              help="Folder for deliveries.csv and outcomes.csv.")
@click.option("--seed", type=int, default=11, show_default=True, help="Random seed of the outcome draw.")
@db_option
@clean_errors
def simulate_outcomes_command(key: str, shop_dir: str, out: str, seed: int, db: str | None) -> None:
    """What experiment KEY's assigned users would do: one delivery per treated user and their outcomes
    (retained, revenue pre and post, unsubscribed), drawn from the shop's true effects."""
    from datetime import datetime
    from pathlib import Path

    import pandas as pd

    from experiments.exports import assignments_frame
    from experiments.metrics import arm_unit_costs
    from simulator.experiment import DEMO_TREATMENTS, simulate_deliveries, simulate_outcomes

    truth_path = Path(shop_dir) / SHOP_TRUTH
    if not truth_path.exists():
        raise click.ClickException(f"{shop_dir}: no {SHOP_TRUTH}; point --shop at a folder `winback simulate shop` wrote")
    users = pd.read_parquet(truth_path)
    assigned = assignments_frame(db, key)
    if assigned.empty:
        raise click.ClickException(f"experiment '{key}' has no assigned users yet; run `winback experiment assign {key}`")
    known = set(DEMO_TREATMENTS["key"])
    unknown = sorted(set(assigned["treatment_key"].dropna()) - known)
    if unknown:
        raise click.ClickException(f"experiment '{key}' gives treatment(s) {', '.join(unknown)} that the simulated shop does not "
                        f"know; it knows {', '.join(sorted(known))}")
    # The simulator keys arms by treatment: each user's arm becomes the treatment they get (or control).
    by_treatment = pd.DataFrame({"user_id": assigned["user_id"],
                                 "arm_key": assigned["treatment_key"].fillna("control").astype(str)})
    as_of = str(users["as_of"].iloc[0])
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    deliveries = simulate_deliveries(by_treatment, seed=seed, as_of=as_of,  # at the experiment's own unit costs
                                     unit_costs=arm_unit_costs(db, key)).assign(experiment_key=key, sent_at=now)
    outcomes = simulate_outcomes(users, by_treatment, seed=seed + 1, as_of=as_of).assign(experiment_key=key)
    # Post-period outcomes are observed now, after assignment; pre-period ones at the shop's date, before it.
    outcomes.loc[outcomes["period"] == "post", "observed_at"] = now
    outcomes.loc[outcomes["period"] == "pre", "observed_at"] = (
        pd.Timestamp(as_of).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    columns = ["experiment_key", "user_id", "treatment_key", "sent_at", "cost", "channel"]
    deliveries[columns].to_csv(folder / "deliveries.csv", index=False)
    outcomes[["experiment_key", "user_id", "metric", "period", "value", "observed_at"]].to_csv(
        folder / "outcomes.csv", index=False)
    click.echo(f"{len(deliveries):,} deliveries and {len(outcomes):,} outcome rows written to {folder}")
