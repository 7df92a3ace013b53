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


@simulate.command("weekly")
@click.option("--users", "n_users", type=click.IntRange(min=100, max=2_000_000), default=20_000, show_default=True,
              help="How many customers.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (each seed is another shop).")
@click.option("--weeks", type=click.IntRange(min=1, max=520), default=17, show_default=True,
              help="Weeks the shop can run (cycles plus the churn horizon after the last one).")
@click.option("--start", default="2026-01-05", show_default=True, help="The first week's Monday (YYYY-MM-DD).")
@click.option("--no-effect", is_flag=True, help="Treatments do nothing (an A/A programme).")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True,
              help="Folder for the shop's state, history.csv and each week's events.")
@clean_errors
def simulate_weekly(n_users: int, seed: int, weeks: int, start: str, no_effect: bool, out: str) -> None:
    """A shop that moves week by week and reacts to what a programme sends: writes its 90 days of history; then
    `winback simulate week` moves it one week with a cycle's send list."""
    from dataclasses import replace
    from pathlib import Path

    import pandas as pd

    from simulator.weekly import TIERS, WeeklyShop, WeeklyShopConfig
    from simulator.weekly_files import save_shop

    try:
        day = pd.Timestamp(start)
    except ValueError:
        raise click.ClickException(f"--start {start!r} is not a date (YYYY-MM-DD)") from None
    config = WeeklyShopConfig(n_users=n_users, weeks=weeks, seed=seed, start=str(day.date()))
    if no_effect:
        none = {tier: 0.0 for tier in TIERS}
        config = replace(config, churn_effect=none, spend_effect=none)
    shop = WeeklyShop(config)
    folder = save_shop(shop, Path(out))
    history = shop.history()
    history.assign(ts=history["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S")).to_csv(folder / "history.csv", index=False)
    effect = ("treatments do nothing" if no_effect else "a treatment cuts the churn hazard by 40% (high value) or 25% "
              "(regular) and lifts spend 30%, for 4 weeks")
    click.echo(f"weekly shop: {n_users:,} users, {len(history):,} events of history before {day.date()} in "
               f"{folder / 'history.csv'}; {weeks} weeks to run, {effect}")


@simulate.command("week")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@click.option("--sent", "sent", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A cycle's send list (`cycle run --out`); its treated users follow the treatment's effect.")
@clean_errors
def simulate_week(folder: str, sent: tuple[str, ...]) -> None:
    """Move the weekly shop in FOLDER one week: the users the send lists treated follow the treatment's true
    effect; writes the week's events (the next cycle's --events file)."""
    from pathlib import Path

    from simulator.weekly_files import load_shop, save_shop, sent_mask

    shop = load_shop(folder)
    if shop.week >= shop.config.weeks:
        raise click.ClickException(f"{folder}: all {shop.config.weeks} weeks have run; make a longer shop with "
                                   "`winback simulate weekly --weeks`")
    mask = sent_mask(shop, list(sent))
    week = shop.step(sent=mask)
    path = Path(folder) / f"events-week-{week.index:03d}.csv"
    week.events.assign(ts=week.events["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S")).to_csv(path, index=False)
    save_shop(shop, folder)
    orders = int((week.events["event_type"] == "order").sum())
    click.echo(f"week {week.index + 1} of {shop.config.weeks} from {week.start.date()}: {int(mask.sum()):,} users sent "
               f"a treatment, {len(week.churned):,} churned, {orders:,} orders -> {path}")


@simulate.command("truth")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@click.option("--programme", "name", required=True, help="The programme whose report to check.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
@clean_errors
def simulate_truth(folder: str, name: str, as_json: bool, db: str | None) -> None:
    """The programme's true churn reduction and LTV change per tier on the weekly shop in FOLDER: the report's
    estimand on the programme's matured users, to hold `programme report` against."""
    from common.jsonable import dumps
    from experiments.programmes import get_programme
    from simulator.weekly_files import load_shop
    from simulator.weekly_programme import programme_truth

    shop = load_shop(folder)
    truth = programme_truth(shop, db, get_programme(db, name))
    if as_json:
        click.echo(dumps(truth.to_dict(orient="records")))
        return
    for row in truth.itertuples():
        click.echo(f"{row.tier:<8} true churn reduction {row.true_reduction:+.1%}, true LTV change "
                   f"{row.true_ltv_change:+.1%} ({row.users:,} matured programme users)")
