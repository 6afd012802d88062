import json
import math
from pathlib import Path

from benchmarks import peers, spectral_term_cost
from benchmarks.run import STUDY_ARCHS, main, study_archs

REPO = Path(__file__).resolve().parents[2]


def test_tiny_cpu_benchmark_writes_its_report(tmp_path, single_thread):
    main(["--device", "cpu", "--config", "tiny", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "benchmark.json").read_text())
    assert {"config", "device", "torch", "plan", "training", "training_1d", "training_speedup", "samplers", "sampling",
            "bf16_matmul_tflops", "memory", "uptime_load_before", "uptime_load_after"} <= set(report)  # fmt: skip
    assert (report["config"], report["device"], report["memory"], report["bf16_matmul_tflops"]) == ("tiny", "cpu", None, None)

    loops = ["reference", "float32", "+ channels_last", "+ bf16 autocast"]  # the tiny config leaves out compiling
    assert [row["loop"] for row in report["training"]] == loops
    assert [row["loop"] for row in report["training_1d"]] == [loops[0], loops[1], loops[3]]
    for rows in (report["training"], report["training_1d"]):
        for above, row in zip(rows, rows[1:]):
            assert row["gain"] == row["samples_per_second"] / above["samples_per_second"]
        for row in rows:
            assert len(row["window_samples_per_second"]) == report["plan"]["windows"] * report["plan"]["rounds"]
            assert row["samples_per_second"] > 0 and math.isfinite(row["samples_per_second"])
    assert report["training_speedup"] == report["training"][-1]["samples_per_second"] / report["training"][0]["samples_per_second"]

    samplers = {row["sampler"]: row for row in report["samplers"]}
    assert sorted(samplers) == ["euler_maruyama", "heun", "predictor_corrector", "probability_flow_ode"]
    for row in samplers.values():
        assert row["speedup"] == row["before"]["seconds_per_sample"] / row["fast"]["seconds_per_sample"]
        assert row["max_abs_difference"] < 1.0  # bf16 rounding in the net, not another sample
    assert samplers["euler_maruyama"]["before"]["nfe"] == samplers["euler_maruyama"]["fast"]["nfe"] == 3

    sampling = report["sampling"]
    for solver in ("project", "solve_ivp"):
        assert sampling[solver]["nfe"] > 10 and sampling[solver]["seconds"] > 0
    # both solvers integrate the same ODE from the same prior draw at rtol = atol = 1e-3
    assert sampling["max_abs_difference"] < 0.05

    table = (tmp_path / "benchmark.md").read_text()
    assert "| tiny | unet2d [8, 16] 1x16x16 | cpu | + bf16 autocast | 32 |" in table and "| tiny | unet1d 1x256 | cpu | float32 | 32 |" in table
    assert "| predictor_corrector |" in table and "scipy solve_ivp RK45" in table


def test_the_memory_rows_are_the_study_grids_2d_nets():
    archs = study_archs(REPO / STUDY_ARCHS)
    assert len(archs) == 12 and all(arch["net"] == "unet2d" and "embed_dim" in arch for arch in archs.values())


def test_the_peers_train_and_sample_beside_this_project_with_equal_work(tmp_path, single_thread):
    peers.main(["--device", "cpu", "--config", "tiny", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "peers.json").read_text())
    rows = report["rows"]
    names = ["sgm (this project)", "audio-diffusion-pytorch UNetV0", "diffusers UNet1DModel (Dance Diffusion)"]
    assert [(row["contender"], row["precision"]) for row in rows] == [(n, p) for p in ("float32", "bf16 autocast") for n in names]
    for row in rows:
        ours = next(r for r in rows if r["precision"] == row["precision"] and r["contender"] == names[0])
        assert row["net_passes_per_draw"] == peers.NFE == 35 and row["draw_finite"]
        assert 0.7 < row["parameters"] / ours["parameters"] < 1.3  # nets of about one size
        assert row["train_samples_per_second"] > 0 and row["seconds_per_note"] > 0
        assert row["train_ratio"] == row["train_samples_per_second"] / ours["train_samples_per_second"]
        assert row["sample_ratio"] == row["seconds_per_note"] / ours["seconds_per_note"]
    table = (tmp_path / "peers.md").read_text()
    assert table.count("\n| ") == 1 + len(rows) and "seeded random clips" in table


def test_the_spectral_term_is_timed_beside_the_plain_loss(capsys, single_thread):
    seconds = spectral_term_cost.main(["--steps", "1", "--batch", "2", "--crop", "2048", "--fast-path", "off"])
    assert set(seconds) == {"without", "with"} and all(value > 0 for value in seconds.values())
    printed = capsys.readouterr().out
    assert "float32, batch 2 x 2048, 1 threads" in printed and f"ratio {seconds['with'] / seconds['without']:.2f}" in printed
