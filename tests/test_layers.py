"""The layers hold: a test walks every module's imports (AST) and fails when a lower layer imports a higher one.

    common/                     leaf: imports nothing of the project
    stats/                      pure math: common and itself only
    experiments/ warehouse/     the databases (registry, warehouse)
    churn/ uplift/              models; never talk to a database driver directly
    simulator/                  the demo shop: may use the core, no core package uses it
    winback/ webui/ scripts/ bench/   front doors and tools, on top of everything
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = {"common", "stats", "experiments", "warehouse", "churn", "uplift", "simulator", "winback", "webui",
           "scripts", "bench", "tests"}
CORE = {"stats", "experiments", "warehouse", "churn", "uplift"}
FRONT = {"winback", "webui", "scripts", "bench", "tests", "simulator"}
ALLOWED: dict[str, set[str]] = {
    "common": {"common"},
    "stats": {"common", "stats"},
    **{package: {"common"} | CORE for package in CORE},
    "simulator": {"common", "simulator"} | CORE,
}
DATABASE_DRIVERS = {"sqlite3", "sqlite_utils", "duckdb", "pyspark"}
HEAVY = ("causalml", "lightgbm", "sklearn", "matplotlib", "pyspark", "scipy", "statsmodels", "pandas", "numba")


def imports_of(path: Path) -> set[str]:
    """Top-level names of every module imported anywhere in the file (function-level imports included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_lower_layers_never_import_higher_ones(package):
    offences = []
    for path in modules(package):
        for name in sorted(imports_of(path) & PROJECT - ALLOWED[package]):
            offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offences == []


@pytest.mark.parametrize("package", ["churn", "uplift", "stats", "common"])
def test_only_experiments_and_warehouse_talk_to_databases(package):
    offences = [f"{path.relative_to(ROOT)} imports {name}" for path in modules(package)
                for name in sorted(imports_of(path) & DATABASE_DRIVERS)]
    assert offences == []


def test_every_winback_setting_is_read_in_common_settings():
    readers = [path.relative_to(ROOT) for package in PROJECT - {"tests"} if (ROOT / package).exists()
               for path in modules(package) if "os.environ" in path.read_text() and "WINBACK_" in path.read_text()]
    assert readers == [Path("common/settings.py")]


def test_the_cli_help_loads_no_heavy_library():
    code = ("import sys; from click.testing import CliRunner; from winback.cli import cli; "
            "result = CliRunner().invoke(cli, ['--help']); assert result.exit_code == 0, result.output; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stderr
