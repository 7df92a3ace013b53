"""Every code block of README.md and docs/ runs, the README's CLI table matches the commands, and what the docs
name (links, repository paths, command options, Python functions) exists.

Blocks tagged `sh`/`bash` run in order as one shell story per file (in a temporary folder, with the project's
`winback` on PATH); blocks tagged `python` run in order in one namespace per file. A block directly after a
`<!-- skip -->` line is not run (set-up commands such as `make demo`, or multi-minute reproductions).
Untagged blocks are text (diagrams, sample output) and are not run.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<skip><!-- skip -->\n)?```(?P<lang>[a-z]*)\n(?P<body>.*?)^```$", re.M | re.S)


def blocks(path: Path, langs: tuple[str, ...]) -> list[str]:
    """The runnable blocks of one file in the given languages."""
    return [m["body"] for m in FENCE.finditer(path.read_text()) if m["lang"] in langs and not m["skip"]]


def story_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINBACK_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["WINBACK_ACTOR"] = "docs-test"
    return env


SHELL_DOCS = [p for p in DOCS if blocks(p, ("sh", "bash"))]
PYTHON_DOCS = [p for p in DOCS if blocks(p, ("python",))]


@pytest.mark.slow
@pytest.mark.parametrize("path", SHELL_DOCS, ids=lambda p: p.name)
def test_shell_blocks_run_as_one_story(path, tmp_path):
    script = "set -euo pipefail\n" + "\n".join(blocks(path, ("sh", "bash")))
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=story_env(tmp_path), capture_output=True,
                            text=True, timeout=1200)
    assert result.returncode == 0, f"{path.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    if path.name == "README.md":
        check_the_loop(tmp_path / "tour", result.stdout)  # the story starts with `mkdir -p tour && cd tour`


def check_the_loop(folder: Path, output: str) -> None:
    """The README's story is the end-to-end test of the loop through the CLI: check what each step left behind."""
    import json
    import sqlite3

    import pandas as pd

    db = sqlite3.connect(folder / "registry.db")
    cohort = db.execute("SELECT COUNT(DISTINCT user_id) FROM cohorts WHERE cohort_key = 'at-risk'").fetchone()[0]
    churn = pd.read_csv(folder / "churn-scores.csv", dtype={"user_id": str})
    assert {"user_id", "risk", "clv", "stage", "tier", "reason"} <= set(churn.columns) and len(churn) > cohort > 0
    send = pd.read_csv(folder / "send" / "wb-q4.csv", dtype=str)
    assert list(send.columns) == ["user_id", "arm", "treatment_key", "assigned_at"] and len(send) == cohort
    assert set(send["arm"]) == {"control", "coupon", "reco"}
    imported = db.execute("SELECT kind, inserted FROM import_batches ORDER BY id").fetchall()
    assert [kind for kind, _ in imported] == ["deliveries", "outcomes"] and all(n > 0 for _, n in imported)
    rows = pd.read_csv(folder / "out" / "wb-q4.csv")
    assert len(rows) == 6 and set(rows["metric"]) == {"retained", "unsubscribed", "revenue"}
    report = json.loads((folder / "out" / "wb-q4.json").read_text())
    assert len(report) == 6 and all(isinstance(row["effect"], float) for row in report)
    assert (folder / "out" / "wb-q4.png").stat().st_size > 10_000
    assert "Health checks:" in output and "[FAIL]" not in output
    assert db.execute("SELECT status FROM experiments WHERE key = 'wb-q4'").fetchone() == ("concluded",)
    assert db.execute("SELECT winner_arm, decided_by FROM decisions").fetchall() == [("reco", "ana")]
    # `uplift prove`: the plan judged on held-out users, against each treatment sent to random users.
    assert "forecast (the fit's own, out of fold)" in output and "  blanket coupon_10 " in output
    assert "  blanket reco_email " not in output  # reco failed the unsubscribe guardrail: no plan sends it
    assert "  forecast - held out " in output and (folder / "out" / "proof.png").stat().st_size > 10_000
    plan = pd.read_csv(folder / "plan.csv", dtype={"user_id": str})
    assert {"user_id", "arm", "treatment_key"} <= set(plan.columns)
    assert set(plan["treatment_key"].dropna()) == {"coupon_10"}  # `--model uplift-q4` honours reco's failed guardrail
    chosen = plan[plan["arm"] != "untreated"] if "untreated" in set(plan["arm"]) else plan
    held_out = (chosen["arm"] == "holdout").mean()
    assert 0.05 < held_out < 0.15, held_out  # --holdout 0.1 of the chosen users
    assert db.execute("SELECT status FROM experiments WHERE key = 'plan-q4'").fetchone() == ("running",)


@pytest.mark.slow
@pytest.mark.parametrize("path", PYTHON_DOCS, ids=lambda p: p.name)
def test_python_blocks_run_in_order(path, tmp_path):
    code = "\n\n".join(blocks(path, ("python",)))
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=story_env(tmp_path), capture_output=True,
                            text=True, timeout=1200)
    assert result.returncode == 0, f"{path.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def command_paths(group: click.Group, prefix: str = "winback") -> set[str]:
    """Every leaf command as typed: 'winback experiment create', ..."""
    paths = set()
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            paths |= command_paths(command, f"{prefix} {name}")
        else:
            paths.add(f"{prefix} {name}")
    return paths


def readme_table_commands() -> set[str]:
    """The commands of the README's CLI table: rows start with `winback a b|c`, meaning 'winback a b' and 'winback a c'."""
    section = (ROOT / "README.md").read_text().split("## CLI", 1)[1]
    found = set()
    for spelled in re.findall(r"^\| `(winback [a-z |-]*)`", section, re.M):
        *head, last = spelled.split()
        found |= {" ".join([*head, option]) for option in last.split("|")}
    return found


def test_readme_cli_table_lists_every_command():
    from winback.cli import cli

    assert readme_table_commands() == command_paths(cli)


def prose(path: Path) -> str:
    """A Markdown file without its fenced code blocks."""
    return re.sub(r"^```.*?^```$", "", path.read_text(), flags=re.M | re.S)


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of one Markdown file."""
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#+\s+(.*)$", prose(path), re.M)}


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_relative_links_and_paths_exist(path):
    """Every relative link names a file (and heading) that exists, and so does every repository path in backticks."""
    text = prose(path)
    broken = []
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        file = (path.parent / target) if target else path
        if not file.exists() or (anchor and file.suffix == ".md" and anchor not in anchors(file)):
            broken.append(link)
    packages = "bench|churn|common|docs|experiments|scripts|simulator|stats|tests|uplift|warehouse|webui|winback"
    for named in re.findall(rf"`((?:{packages})/[\w./-]*)`", text):
        if "/." not in named and not (ROOT / named).exists():  # dot folders such as bench/.cache/ are made on use
            broken.append(named)
    assert not broken, f"{path.name} names what does not exist: {broken}"


def winback_spans(text: str):
    """Each `winback ...` command line of a Markdown text: in backticks, or a line (or piped part) of a code block."""
    text = text.replace("\\\n", " ")
    yield from re.findall(r"`(winback [^`]+)`", text)
    for block in re.findall(r"^```[a-z]*\n(.*?)^```$", text, re.M | re.S):
        for line in block.splitlines():
            for part in re.split(r"[|;&]|\$\(", line):
                part = part.strip().removeprefix(".venv/bin/")
                if part.startswith("winback "):
                    yield part


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_documented_options_exist(path):
    """Every --option written after a `winback` command is one of that command's options."""
    from winback.cli import cli

    unknown = []
    for span in winback_spans(path.read_text()):
        command = cli
        for word in span.split("#")[0].split()[1:]:
            if not (isinstance(command, click.Group) and word in command.commands):
                break
            command = command.commands[word]
        if isinstance(command, click.Group):
            continue
        known = {o for p in command.get_params(click.Context(command)) for o in (*p.opts, *p.secondary_opts)}
        unknown += [(span[:60], o) for o in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", span.split("#")[0])
                    if o not in known]
    assert not unknown, f"{path.name}: options the commands do not have: {unknown}"


def test_python_md_names_functions_that_exist():
    """docs/python.md's package table: every `module.function` it names can be imported."""
    import importlib

    missing = []
    for package, cell in re.findall(r"^\| `(\w+)` \| (.*) \|$", (ROOT / "docs" / "python.md").read_text(), re.M):
        module = None
        for name in re.findall(r"`([\w.*]+)`", cell):
            *head, attr = name.split(".")  # `module.f`, then `g` of the same module; or a full `package.module.h`
            if "*" in name:
                continue
            if len(head) == 1:
                module = f"{package}.{head[0]}"
            where = ".".join(head) if len(head) > 1 else module or package
            if not hasattr(importlib.import_module(where), attr):
                missing.append(name)
    assert not missing, f"docs/python.md names what does not exist: {missing}"


def test_readme_lists_every_setting():
    """The README's configuration paragraph names every WINBACK_* variable common/settings.py reads."""
    from common.settings import SETTINGS

    readme = (ROOT / "README.md").read_text()
    assert [name for name in SETTINGS if f"`{name}`" not in readme] == []
