"""The layers hold: a test walks every module's imports (AST, function-level imports included) and fails on any
import that points up DESIGN.md's order of layers (each package imports only itself and the layers below):

    common/       the errors' base class and settings: imports nothing of the project
    stats/        pure math on sufficient statistics: no databases, no files, no web
    warehouse/    the behaviour-event engines (DuckDB, Spark) and the event vocabulary
    experiments/  the registry
    churn/        events -> features -> risk, stage, tier, flags
    uplift/       uplift models, budget allocation, proof
    programme/    the programme cycles (when it exists)
    simulator/    the demo shop: may use the core, no core package uses it
    winback/ webui/   the doors, side by side: webui never imports winback; winback imports webui only in
                      its `serve` command; web libraries (flask, werkzeug, ...) only in webui/ and that command
    scripts/ bench/ tests/   tools on top of everything
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("common", "stats", "warehouse", "experiments", "churn", "uplift", "programme", "simulator")
DOORS = ("winback", "webui")
TOOLS = ("scripts", "bench", "tests")
PROJECT = {*LAYERS, *DOORS, *TOOLS}
SERVE_COMMAND = "winback/commands/serve.py"  # the CLI's door into the web UI
ALLOWED: dict[str, set[str]] = {
    **{package: set(LAYERS[: i + 1]) for i, package in enumerate(LAYERS)},
    "winback": {*LAYERS, "winback"},  # plus webui in SERVE_COMMAND only
    "webui": {*LAYERS, "webui"},
}
WEB_LIBRARIES = {"flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "waitress"}
DATABASE_DRIVERS = {"sqlite3", "sqlite_utils", "duckdb", "pyspark"}
# stats/ is pure: modules that reach files, processes or the network, and calls that read or write files.
IO_MODULES = {"os", "pathlib", "io", "shutil", "tempfile", "glob", "pickle", "shelve", "csv", "subprocess",
              "socket", "urllib", "requests", "http"} | DATABASE_DRIVERS | WEB_LIBRARIES
IO_CALLS = {"open", "load", "save", "savez", "loadtxt", "savetxt", "genfromtxt", "fromfile", "tofile", "dump"}
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


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def io_calls(path: Path) -> list[str]:
    """Calls that read or write files: open(...), np.load/save..., pandas' read_* and to_<format>(...)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        writes = name.startswith("to_") and name[3:] in {"csv", "parquet", "json", "excel", "pickle", "sql",
                                                           "feather", "hdf", "stata", "orc", "xml", "html"}
        if name in IO_CALLS or name.startswith("read_") or writes:
            found.append(f"{relative(path)}:{node.lineno} calls {name}()")
    return found


def test_every_python_package_has_a_place_in_the_order():
    """A new top-level package fails here until it is given a layer above."""
    tops = {d.name for d in ROOT.iterdir() if d.is_dir() and not d.name.startswith(".") and any(d.glob("*.py"))}
    assert tops - PROJECT == set()


@pytest.mark.parametrize("package", [*LAYERS, *DOORS])
def test_each_package_imports_only_itself_and_lower_layers(package):
    offences = []
    for path in modules(package):
        allowed = ALLOWED[package] | ({"webui"} if relative(path) == SERVE_COMMAND else set())
        offences += [f"{relative(path)} imports {name}" for name in sorted(imports_of(path) & PROJECT - allowed)]
    assert offences == []


@pytest.mark.parametrize("package", [*LAYERS, "winback"])
def test_web_libraries_only_in_webui_and_the_serve_command(package):
    offences = [f"{relative(path)} imports {name}" for path in modules(package) if relative(path) != SERVE_COMMAND
                for name in sorted(imports_of(path) & WEB_LIBRARIES)]
    assert offences == []


@pytest.mark.parametrize("package", [p for p in (*LAYERS, *DOORS) if p not in ("experiments", "warehouse")])
def test_only_experiments_and_warehouse_talk_to_databases(package):
    # webui/registry.py opens the registry once per request (sqlite_utils) and hands it to the services.
    offences = [f"{relative(path)} imports {name}" for path in modules(package) if relative(path) != "webui/registry.py"
                for name in sorted(imports_of(path) & DATABASE_DRIVERS)]
    assert offences == []


def test_stats_does_no_file_io():
    offences = [f"{relative(path)} imports {name}" for path in modules("stats")
                for name in sorted(imports_of(path) & IO_MODULES)]
    offences += [call for path in modules("stats") for call in io_calls(path)]
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
