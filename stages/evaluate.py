"""Score one grid point's checkpoints and samples: python -m stages.evaluate POINT.

Per checkpoint: bits per dimension of `evaluate.likelihood.examples` test examples (spread over the
test set, as the held-out clips are) through the probability-flow ODE, in units of the stored data
(the layout's bin width: 16-bit audio, 8-bit images), and the ODE's NFE; none where the tensors
hold no density over the stored values (STFT, enlarged images, piano rolls). Per checkpoint and
sampler: the kind of data's numbers (sgm.kinds; notes: pitchedness, pitch accuracy, spectral
flatness, the Frechet distance of CREPE embeddings to the held-out clips', the share recognised as
the requested instrument).
Writes runs/POINT/eval/metrics.json {"epoch_NNN": {"bpd", "bpd_nfe", "<sampler>": {...}}},
runs/POINT/eval/by_instrument.csv (per requested instrument: in-band flatness, Frechet distance and
both judges' accuracy, beside the held-out clips' of that instrument) and runs/POINT/summary.json: the last checkpoint's headline numbers,
sampled with the first of `sample.samplers`, under short names, the metrics `dvc exp show` shows.
"""

from __future__ import annotations

import torch

from sgm.checkpoints.inference import default_device, load_for_inference
from sgm.core.likelihood import bits_per_dim, log_likelihood
from sgm.core.score import score_fn_from_net
from sgm.kinds import data_kind
from sgm.kinds.kind import DataSet
from sgm.kinds.labels import tensor_labels
from sgm.kinds.splits import spread
from sgm.progress import progress_bar
from stages.common.outputs import StageError, grid_point_argument, run_stage, write_csv, write_json
from stages.common.params import load_params
from stages.common.paths import (
    by_instrument_file,
    checkpoint_file,
    checkpoint_name,
    eval_metrics_file,
    read_dataset,
    sampler_samples_file,
    summary_file,
    train_dir,
)


def heldout_bits_per_dim(checkpoint, data: DataSet, settings, seed: int) -> dict[str, float]:
    """Mean bits/dim of test examples under a checkpoint, and the NFE it took; {} where the layout has no bin width.

    A conditional model scores each example given its own labels (its pitch and instrument).
    """
    bin_width = data.layout.bin_width()
    if bin_width is None:
        return {}
    device = default_device()
    net, sde, conditioning = load_for_inference(checkpoint, device=device)
    chosen = spread(len(data.test["x"]), settings.likelihood.examples)
    x = data.test["x"][chosen].to(device)
    labels = tensor_labels(conditioning, {key: values[chosen] for key, values in data.test.items() if key != "x"}, data.label_names)
    score_fn = score_fn_from_net(net, sde, None if labels is None else labels.to(device))
    generator = torch.Generator(device).manual_seed(seed)
    likelihood = settings.likelihood
    logp, nfe = log_likelihood(score_fn, sde, x, likelihood.rtol, likelihood.atol, likelihood.eps, generator, progress=True)
    return {"bpd": bits_per_dim(logp, x[0].numel(), bin_width).mean().item(), "bpd_nfe": float(nfe)}


def main() -> None:
    params = load_params()
    point = grid_point_argument(params, "evaluate")
    epochs, samplers = params.train.epochs, params.sample.samplers
    checkpoints = {checkpoint_name(epoch): checkpoint_file(train_dir(point), epoch) for epoch in epochs}
    samples = {(checkpoint_name(epoch), sampler): sampler_samples_file(point, epoch, sampler) for epoch in epochs for sampler in samplers}
    missing = [str(path) for path in [*checkpoints.values(), *samples.values()] if not path.is_file()]
    if missing:
        raise StageError("missing input(s) (run the train and sample stages first):\n  " + "\n  ".join(missing))

    data = read_dataset(params.kind)
    kind = data_kind(params.kind)
    metrics = {}
    for name, checkpoint in progress_bar(checkpoints.items(), desc=f"evaluate@{point} bits/dim", unit="checkpoint"):
        metrics[name] = heldout_bits_per_dim(checkpoint, data, params.evaluate, params.seed)
    numbers, by_instrument = kind.score(params, data, samples)
    for (name, sampler), values in numbers.items():
        metrics[name][sampler] = values
    write_csv(by_instrument_file(point), by_instrument)
    write_json(eval_metrics_file(point), metrics)
    write_json(summary_file(point), kind.headline(metrics[checkpoint_name(epochs[-1])], samplers[0]))


if __name__ == "__main__":
    run_stage(main)
