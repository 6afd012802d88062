"""A plain `dvc exp show` compares at a glance, with real DVC in a temporary git repository.

On a terminal DVC renders the whole table and hands it to `less -S`, which shows its first
COLUMNS characters of each line; without a terminal it prints the same full-width table. So at
160 columns a reader sees the first 160 characters of every line printed here: they must hold the
experiment names, the grid's params and every headline number, and no cell anywhere may be cut
short ("…"). The project keeps the default run's names (a grid point and an architecture as long
as the default's), as the widths of its columns follow from them, but not its sizes.
"""

from __future__ import annotations

import io
import subprocess

import pandas as pd
import pytest
import yaml

from sgm.notes.kind import HEADLINE
from tests.helpers.dvc_project import REPO, dvc_project
from tests.helpers.tiny_project import tiny_params

WIDTH = 160
HEADLINE_COLUMNS = [*HEADLINE, "bpd"]
DEFAULTS = yaml.safe_load((REPO / "params.yaml").read_text())
POINT = next(iter(DEFAULTS["grid"]))
ARCH = DEFAULTS["grid"][POINT]["arch"]
STAGES = ["render", "preprocess", "tensorize", "train", "sample", "evaluate"]  # the ones summary.json needs


def default_named_params() -> dict:
    params = tiny_params()
    params["archs"] = {ARCH: params["archs"]["tiny"]}
    params["grid"] = {POINT: {"arch": ARCH, "lr": 1e-3}}
    params["play"]["point"] = POINT
    params["train"]["epochs"] = [1]
    params["sample"].update(samplers=["heun"], heun={"steps": 2, "rho": 7.0, "eps": 1e-3})
    params["evaluate"]["likelihood"]["examples"] = 1
    return params


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The project after `dvc repro`, committed; `show(*flags)` runs `dvc exp show` at 160 columns,
    `values()` reads its table as CSV."""
    root = tmp_path_factory.mktemp("exp_show")
    env, run = dvc_project(root, default_named_params(), stages=STAGES)
    run("git", "add", "-A")
    run("git", "commit", "-qm", "tiny project")
    run("dvc", "repro")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "first run")

    def show(*flags) -> list[str]:
        result = subprocess.run(["dvc", "exp", "show", *flags], cwd=root, env={**env, "COLUMNS": str(WIDTH)}, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return [line for line in result.stdout.splitlines() if line.strip()]

    def values() -> pd.DataFrame:
        """The same table's values, one row per commit or experiment."""
        return pd.read_csv(io.StringIO(run("dvc", "exp", "show", "--csv").stdout))

    return run, show, values


def columns(header: str) -> list[str]:
    return header.split()


def row(lines: list[str], name: str) -> str:
    found = [line for line in lines if name in line]
    assert len(found) == 1, (name, lines)
    return found[0]


def assert_compares_at_a_glance(lines: list[str]) -> None:
    assert not [line for line in lines if "…" in line], "a cell was cut short"
    header = next(line for line in lines if "Experiment" in line)
    seen = columns(header[:WIDTH])
    wanted = ["Experiment", "Created", *HEADLINE_COLUMNS, f"grid.{POINT}.arch", f"grid.{POINT}.lr"]
    assert seen[: len(wanted)] == wanted, f"the first {WIDTH} columns show {seen}"


def test_the_default_runs_table_shows_its_headline_numbers_first(project):
    _, show, values = project
    lines = show()
    assert_compares_at_a_glance(lines)
    workspace = values().set_index("rev").loc["workspace"]
    assert 0 <= workspace["at_pitch"] <= workspace["pitched"] <= 1 and workspace["fd"] > 0 and workspace["bpd"] > 0
    assert (workspace[f"grid.{POINT}.arch"], workspace[f"grid.{POINT}.lr"]) == (ARCH, 0.001)
    screen = row(lines, "workspace")[:WIDTH]  # and each number is on the first screen, as DVC rounds it
    assert all(f"{workspace[name]:.5g}"[:4] in screen for name in HEADLINE_COLUMNS)


def test_two_experiments_compare_at_a_glance_and_by_what_changed(project):
    run, show, values = project
    run("dvc", "exp", "run", "-n", "faster", "-S", f"grid.{POINT}.lr=0.003")
    run("git", "checkout", "HEAD", "--", ".")  # each experiment starts from the committed run, not the last one's results
    run("dvc", "checkout", "--force")
    run("dvc", "exp", "run", "-n", "guided", "-S", "sample.guidance=2.0")
    lines = show()
    assert_compares_at_a_glance(lines)
    assert "0.003" in row(lines, "[faster]")[:WIDTH] and "0.001" in row(lines, "[guided]")[:WIDTH]

    table = values().set_index("Experiment")
    faster, guided = table.loc["faster"], table.loc["guided"]
    differing = {name for name in HEADLINE_COLUMNS if faster[name] != guided[name]}
    assert {"in_band", "fd"} <= differing  # another net, and guidance, make other samples

    changed = show("--only-changed")
    assert not [line for line in changed if "…" in line]
    shown = columns(next(line for line in changed if "Experiment" in line))
    assert {f"grid.{POINT}.lr", "sample.guidance", *differing} <= set(shown)
    assert not [name for name in shown if name.startswith(("render.", "archs.", "tensorize."))]

    diff = run("dvc", "exp", "diff", "faster", "guided").stdout
    assert f"grid.{POINT}.lr" in diff and "sample.guidance" in diff
    assert f"runs/{POINT}/summary.json" in diff and all(name in diff for name in differing)
