"""scripts/uplift_proof.py's options (click): help, the tables from the committed JSON, clear errors for bad values.
Nothing here runs the proof itself (minutes per world)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("uplift_proof_script", ROOT / "scripts" / "uplift_proof.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_help_names_every_documented_option(script):
    result = CliRunner().invoke(script.main, ["--help"])
    assert result.exit_code == 0
    for option in ("--quick", "--resume", "--tables", "--frontier", "--ceiling", "--breakdown WORLD", "--demo-users N",
                   "--world-seeds"):
        assert option in result.output


@pytest.mark.parametrize(("args", "json_name"), [([], "uplift_proof.json"), (["--world-seeds", "2,3,4"],
                                                 "uplift_proof_seeds2-3-4.json"),
                                                 (["--demo-users", "100000"], "uplift_proof_demo100000.json")])
def test_tables_print_the_json_the_options_name(script, args, json_name):
    result = CliRunner().invoke(script.main, ["--tables", *args])
    assert result.exit_code == 0, result.output
    assert result.output == script.tables(json.loads((ROOT / "docs" / json_name).read_text())) + "\n"


@pytest.mark.parametrize(("args", "error"), [
    (["--world-seeds", "a,b"], "Error: Invalid value for '--world-seeds': 'a,b': give seeds separated by commas, "
                               "e.g. --world-seeds 2,3,4"),
    (["--world-seeds", "2,,3"], "Error: Invalid value for '--world-seeds': '2,,3': give seeds separated by commas, "
                                "e.g. --world-seeds 2,3,4"),
    (["--demo-users", "0"], "Error: Invalid value for '--demo-users': 0 is not in the range x>=1."),
    (["--demo-users", "many"], "Error: Invalid value for '--demo-users': 'many' is not a valid integer range."),
    (["--breakdown", "demo"], "Error: Invalid value for --breakdown: 'demo' is not a world of the proof; choose one of "
                              "harmful, interaction, demo (seed 7), demo (seed 8), demo (seed 9), demo (seed 10), "
                              "demo (seed 11)"),
])
def test_bad_values_are_one_clear_error(script, args, error):
    result = CliRunner().invoke(script.main, args)
    assert result.exit_code == 2 and result.output.splitlines()[-1] == error
