"""benchmarks/device/run.sh: a preset's stages without DVC, on the CPU with a tiny preset."""

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]

TINY = """
render: {instruments: [flute], pitch_low: 55, pitch_high: 79, clips_per_note: 2}
tensorize: {layout: waveform1d, target_std: 0.5}
grid: {tiny-5e-4: {arch: tiny, lr: 5.0e-4}}
archs: {tiny: {net: unet1d, blocks: 2, channels: [8, 8], embed_dim: 256}}
train: {conditioning: [pitch], epochs: [1, 2], batch_size: 4, crop_samples: 4096, lr_schedule: linear, test_examples: 4}
sample: {n_samples: 2, batch_size: 2, samplers: [heun, euler_maruyama], guidance: 1.0,
         heun: {steps: 2, rho: 7.0, eps: 1.0e-3}, euler_maruyama: {steps: 2, eps: 1.0e-3}}
evaluate: {likelihood: {examples: 1, rtol: 1.0e-2, atol: 1.0e-2, eps: 1.0e-5}, heldout_clips: 4}
play: {point: tiny-5e-4}
"""


def members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_run_sh_runs_a_presets_stages_and_both_sampling_variants(tmp_path):
    root, out = tmp_path / "repo", tmp_path / "out"
    for name in ["sgm", "stages", "benchmarks"]:
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    (root / "presets").mkdir()
    (root / "presets" / "tiny.yaml").write_text(TINY)
    env = {**os.environ, "OUT": str(out), "WORK": str(tmp_path / "work"), "PROBE_BATCHES": "2",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    result = subprocess.run(["bash", "benchmarks/device/run.sh", "tiny"], cwd=root, env=env, capture_output=True, text=True)
    log = (out / "log.txt").read_text()
    assert result.returncode == 0, log
    assert (root / "params.yaml").read_text() == (REPO / "params.yaml").read_text()  # the stages ran in a copy
    assert sorted(path.name for path in root.iterdir()) == ["benchmarks", "params.yaml", "presets", "sgm", "stages"]
    assert "samples/s at batch 2: " in log and "### " in log.splitlines()[-1]  # packaging ran last

    metrics = members(out / "metrics.tar.gz")
    yaml = YAML(typ="safe", pure=True)
    assert yaml.load(io.BytesIO(metrics["params_A.yaml"]))["train"]["epochs"] == [1, 2]  # the preset, not the probe's
    assert yaml.load(io.BytesIO(metrics["params_B.yaml"]))["sample"]["guidance_interval"] == [0.1, 10.0]
    for variant in "AB":
        scores = yaml.load(io.BytesIO(metrics[f"runs/tiny-5e-4/eval_{variant}/metrics.json"]))
        assert sorted(scores) == ["epoch_001", "epoch_002"] and 0 <= scores["epoch_002"]["heun"]["pitchedness"] <= 1
    assert not [name for name in metrics if name.endswith((".pt", ".wav"))]

    b_heun, a_heun = members(out / "samples_B_heun.tgz"), members(out / "samples_A_heun.tgz")
    assert sorted(a_heun) == ["samples.pt"]
    assert "./samples.pt" in b_heun and len([name for name in b_heun if name.endswith(".wav")]) == 2
