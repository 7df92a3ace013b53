"""`winback serve`: the web UI and REST API on a production WSGI server (waitress), loopback by default."""
from __future__ import annotations

import click

from common.settings import resolve_db_path
from winback.cli_support import clean_errors, db_option

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@click.command()
@db_option
@click.option("--demo", is_flag=True,
              help="First build the demo registry (replacing the --db file), snapshot its experiment, make one "
                   "login per role and print them.")
@click.option("--demo-users", type=click.IntRange(min=500), default=20_000, show_default=True,
              help="Shop users the demo simulates.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True, help="Port to listen on.")
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True, help="Worker threads.")
@clean_errors
def serve(db: str | None, demo: bool, demo_users: int, host: str, port: int, threads: int) -> None:
    """Serve the web UI (experiments, results, finance, strategy, models) and the REST API under /api/v1."""
    from waitress import serve as run_server

    from webui import WebConfigError, create_app
    from webui.config import resolve_secret_key

    path = resolve_db_path(db)
    if demo:
        from winback.web_demo import build_web_demo

        built = build_web_demo(path, n_users=demo_users)
        for line in built.lines:
            click.echo(line)
        click.echo("\nDemo logins (passwords are new on every --demo run):")
        for name, (role, password) in built.logins.items():
            click.echo(f"  {name:<16} {role:<9} password {password}")
    secret = resolve_secret_key(path, create=demo)
    if not secret:
        raise WebConfigError("set WINBACK_SECRET_KEY (a long random string) before serving a real registry, "
                             "or run `winback serve --demo`")
    app = create_app({"DB": str(path), "SECRET_KEY": secret})
    if host not in LOOPBACK:
        click.echo(f"Warning: listening on {host}, reachable from other machines; put it behind HTTPS.", err=True)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"\nWinback UI: http://{shown}:{port}/  (registry {path}; Ctrl+C to stop)")
    run_server(app, host=host, port=port, threads=threads, ident="winback")
