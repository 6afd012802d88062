"""End to end with real DVC in a temporary git repository: repro, an experiment, and what reruns."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
import torch
import yaml

from sgm.audio.pitch import note_name
from tests.helpers.dvc_project import dvc_project
from tests.helpers.tiny_project import TINY_SAMPLERS as SAMPLERS
from tests.helpers.tiny_project import tiny_params


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project in a fresh git repo, with tiny params, after a first `dvc repro`."""
    root = tmp_path_factory.mktemp("project")
    _, run = dvc_project(root, tiny_params())
    run("git", "add", "-A")
    run("git", "commit", "-qm", "tiny project")
    first = run("dvc", "repro")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "first run")
    return root, run, first


def test_repro_produces_every_output(project):
    root, run, first = project
    for point in ["tiny-1e-3", "tiny-3e-3"]:
        assert f"'train@{point}'" in first.stdout
        for epoch in ["epoch_001", "epoch_002"]:
            assert (root / "runs" / point / "train" / "checkpoints" / f"{epoch}.pt").is_file()
            for sampler in SAMPLERS:
                folder = root / "runs" / point / "samples" / epoch / sampler
                requested = torch.load(folder / "samples.pt", weights_only=True)["requested"]
                assert sorted(requested["pitch"]) == [60, 62] and sorted(requested["instrument"]) == ["acoustic_grand_piano", "violin"]
                names = [f"sample_{i:03d}_{p}_{note_name(q, sharp='s')}.wav" for i, (p, q) in enumerate(zip(requested["instrument"], requested["pitch"]))]
                assert sorted(w.name for w in folder.glob("*.wav")) == sorted(names)
        by_instrument = pd.read_csv(root / "runs" / point / "eval" / "by_instrument.csv")
        generated = by_instrument[by_instrument["checkpoint"] != "reference"]
        assert len(generated) == 2 * len(SAMPLERS) * 2 and set(generated["instrument"]) == {"acoustic_grand_piano", "violin"}
        assert (by_instrument["checkpoint"] == "reference").sum() >= 1 and (by_instrument["spectral_flatness_in_band"] > 0).all()
        sampling = json.loads((root / "runs" / point / "sampling.json").read_text())
        assert set(sampling["epoch_002"]) == set(SAMPLERS)
        assert all(v["nfe"] > 0 and v["seconds_per_sample"] > 0 for v in sampling["epoch_002"].values())
    played = json.loads((root / "play" / "index.json").read_text())
    assert [item["title"] for item in played["items"]] == ["Scale", "Continuation", "Variation", "Interpolation", "Melody", "Instrument"]
    assert all((root / "play" / clip["wav"]).is_file() for item in played["items"] for clip in item["clips"])
    costs = json.loads((root / "results" / "play.json").read_text())
    assert costs["continuation"]["nfe"] == 4 and costs["variation"]["nfe"] == 3 and 0 <= costs["scale"]["pitchedness"] <= 1
    page = (root / "report" / "index.html").read_text()
    assert ">Play</h2>" in page and '<a class="download" href="play/instrument.sf2" download>' in page
    assert (root / "report" / "play" / "instrument.sf2").read_bytes() == (root / "play" / "instrument.sf2").read_bytes()
    assert "Data and pipelines are up to date" in run("dvc", "repro").stdout


def test_a_diverged_run_leaves_only_its_own_stages_changed(project):
    # A learning rate of 1e12 blows the weights up within a step or two: the train stage fails
    # and keeps what it wrote in runs/POINT/.train.partial for inspection (or resuming). DVC
    # deletes a stage's outputs before running it, so that point's own stages (and those that
    # read the whole grid) are out of date; once the params and outputs are back, nothing may
    # be, although results, plot and report depend on all of runs/, where the leftover still is.
    root, run, _ = project
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["grid"]["tiny-3e-3"]["lr"] = 1e12
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    failed = run("dvc", "repro", check=False)
    assert failed.returncode != 0 and "error: tiny-3e-3: training diverged" in failed.stderr
    status = json.loads(run("dvc", "status", "--json").stdout)
    assert "train@tiny-3e-3" in status, status
    assert not [stage for stage in status if "tiny-1e-3" in stage], status
    run("git", "checkout", "params.yaml", "runs")  # the uncached metrics and training curves live in git
    run("dvc", "checkout", "--force")
    assert (root / "runs" / "tiny-3e-3" / ".train.partial").is_dir()
    assert json.loads(run("dvc", "status", "--json").stdout) == {}
    shutil.rmtree(root / "runs" / "tiny-3e-3" / ".train.partial")


def stages_rerun(root, run, change) -> set[str]:
    """The stages `dvc repro` runs after `change(params)`; then the committed state is restored."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    change(params)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    log = run("dvc", "repro").stdout
    run("git", "checkout", "HEAD", "--", ".")  # params, dvc.lock (which DVC stages) and the uncached outputs kept in git
    run("dvc", "checkout", "--force")
    return set(re.findall(r"Running stage '([^']+)'", log))


def test_changing_one_point_reruns_only_that_point(project):
    root, run, _ = project
    rerun = stages_rerun(root, run, lambda p: p["grid"]["tiny-3e-3"].update(lr=2e-3))
    assert rerun == {"train@tiny-3e-3", "sample@tiny-3e-3", "evaluate@tiny-3e-3", "results", "plot", "report"}


def test_changing_a_sampler_setting_reruns_sampling_not_training(project):
    root, run, _ = project
    rerun = stages_rerun(root, run, lambda p: p["sample"]["euler_maruyama"].update(steps=7))
    assert rerun == {"sample@tiny-1e-3", "sample@tiny-3e-3", "evaluate@tiny-1e-3", "evaluate@tiny-3e-3", "results", "plot", "report"}


def test_experiment_with_another_learning_rate_shows_in_exp_show(project):
    root, run, _ = project
    run("dvc", "exp", "run", "-n", "faster", "--set-param", "grid.tiny-1e-3.lr=0.01")
    table = json.loads(run("dvc", "exp", "show", "--json").stdout)
    baseline = next(row for row in table if row["rev"] != "workspace")
    experiment = baseline["experiments"][0]["revs"][0]
    assert experiment["name"] == "faster"
    for row in (baseline["data"], experiment["data"]):
        metrics = {path: content["data"] for path, content in row["metrics"].items()}
        assert sorted(metrics) == [f"runs/{point}/summary.json" for point in ["tiny-1e-3", "tiny-3e-3"]]  # the headline only
        for numbers in metrics.values():
            assert list(numbers) == ["pitched", "at_pitch", "instrument", "in_band", "fd", "bpd"]
            assert 0 <= numbers["at_pitch"] <= numbers["pitched"] <= 1 and numbers["fd"] > 0
    lr = experiment["data"]["params"]["params.yaml"]["data"]["grid"]["tiny-1e-3"]["lr"]
    assert lr == 0.01
    run("git", "checkout", "HEAD", "--", ".")
    run("dvc", "checkout", "--force")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["sample"].update(samplers=["euler_maruyama", "ddim"]), "error: params.yaml is invalid:\n  sample.samplers: unknown sampler(s) ['ddim']"),
        (lambda p: p["train"].update(batch_size="4"), "train.batch_size: Input should be a valid integer (given: '4')"),
        (lambda p: p["train"]["sde"].update(name="tutorial_ve"), "train.sde: 'tutorial_ve' takes sigma; got sigma_min, sigma_max"),
        # DVC itself resolves archs.${item.arch} first and names the missing key
        (lambda p: p["grid"]["tiny-1e-3"].update(arch="missing"), "Parameters 'archs.missing' are missing from 'params.yaml'"),
    ],
)
def test_bad_params_stop_before_any_stage_works(project, change, message):
    root, run, _ = project
    params = yaml.safe_load((root / "params.yaml").read_text())
    change(params)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run("dvc", "repro", check=False)
    run("git", "checkout", "params.yaml")
    run("dvc", "checkout", "--force")
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(root.glob("**/.*.partial"))


def test_exp_show_compares_each_points_headline_numbers(project):
    _, run, _ = project
    header = run("dvc", "exp", "show", "--csv").stdout.splitlines()[0].split(",")
    for point in ["tiny-1e-3", "tiny-3e-3"]:
        shown = [name.split(":", 1)[1] for name in header if name.startswith(f"runs/{point}/summary.json:")]
        assert shown == ["pitched", "at_pitch", "instrument", "in_band", "fd", "bpd"]
    assert not [name for name in header if "programs" in name or name.startswith("archs.b")]  # no instrument or arch table
