"""An Apache Airflow DAG that runs a Winback programme's weekly cycle (Airflow is not a Winback dependency).

Copy it into the DAGs folder of an Airflow installation that can run the `winback` command, and set the
registry path and the event drop folder. `winback cycle run` is one idempotent step: a retried or re-run task
finishes the same cycle and sends nobody twice.
"""
from __future__ import annotations

import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator

REGISTRY = "/srv/winback/registry.db"
EVENTS = "/srv/winback/events"  # the shop's export drops one file per day here
PROGRAMME = "winback-2027"

with DAG(
    dag_id="winback_programme",
    schedule="0 6 * * MON",  # every Monday at 06:00, the programme's cadence of 7 days
    start_date=pendulum.datetime(2027, 1, 4, tz="UTC"),
    catchup=False,
    default_args={"retries": 3, "retry_delay": pendulum.duration(minutes=10)},
) as dag:
    BashOperator(
        task_id="cycle_run",
        bash_command=(
            f"winback cycle run {PROGRAMME} --as-of {{{{ ds }}}} --db {REGISTRY} "
            f"$(ls {EVENTS}/*.csv | sed 's/^/--events /') --out {EVENTS}/../send/{PROGRAMME}-{{{{ ds }}}}.csv"
        ),
    )
