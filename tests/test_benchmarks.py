import json
import math

from benchmarks.run import main


def test_tiny_cpu_benchmark_writes_its_report(tmp_path):
    main(["--device", "cpu", "--config", "tiny", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "benchmark.json").read_text())
    assert {"config", "device", "torch", "plan", "training", "training_speedup", "sampling", "bf16_matmul_tflops", "memory"} <= set(report)
    assert (report["config"], report["device"], report["memory"], report["bf16_matmul_tflops"]) == ("tiny", "cpu", None, None)

    reference, project = report["training"]
    assert (reference["loop"], project["loop"]) == ("reference", "project")
    for row in (reference, project):
        assert len(row["window_samples_per_second"]) == report["plan"]["windows"] * report["plan"]["rounds"]
        assert row["samples_per_second"] > 0 and math.isfinite(row["samples_per_second"])
    assert report["training_speedup"] == project["samples_per_second"] / reference["samples_per_second"]

    sampling = report["sampling"]
    for solver in ("project", "solve_ivp"):
        assert sampling[solver]["nfe"] > 10 and sampling[solver]["seconds"] > 0
    # both solvers integrate the same ODE from the same prior draw at rtol = atol = 1e-3
    assert sampling["max_abs_difference"] < 0.05

    table = (tmp_path / "benchmark.md").read_text()
    assert "| tiny | cpu | project | 32 |" in table and project["peak_gib"] is None and "scipy solve_ivp RK45" in table
