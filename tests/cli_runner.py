"""Invoking the `winback` CLI in-process for tests: `run` returns click's result, `ok` asserts success and returns
standard output (progress bars go to standard error)."""
from __future__ import annotations

from click.testing import CliRunner, Result

from winback.cli import cli


def run(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def ok(*args: object) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout
