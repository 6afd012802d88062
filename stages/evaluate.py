"""Score one grid point's checkpoints and samples: python -m stages.evaluate POINT.

Per checkpoint: bits per dimension of `evaluate.likelihood.examples` test clips (spread over the
test set, as the held-out clips are) through the probability-flow ODE, in units of the stored 16-bit audio (see
sgm.metrics.data_bin_width), and the ODE's NFE; it does not depend on the sampler. Per
checkpoint and sampler: pitchedness, pitch accuracy, spectral flatness and the Frechet distance
of the samples' CREPE embeddings to the held-out clips'; for conditional samples, the share
recognised as the requested digit or instrument.
Writes runs/POINT/eval/metrics.json {"epoch_NNN": {"bpd", "bpd_nfe", "<sampler>": {...}}},
runs/POINT/summary.json: the numbers compared first, of the last checkpoint, under short names
for `dvc exp show` (test_loss, bpd, and per sampler pitched, pitch_acc, fd; see SHORT_NAMES), and
runs/POINT/eval/by_instrument.csv: in-band flatness per requested instrument beside the held-out
clips' of that instrument (a mean over instruments hides which one is off).
"""

from __future__ import annotations

import json

import pandas as pd
import torch

from sgm.likelihood import bits_per_dim, log_likelihood
from sgm.losses import score_fn_from_net
from sgm.metrics import audio_metrics, data_bin_width, flatness_by_group
from sgm.progress import progress_bar
from sgm.train import load_for_inference
from stages.classifiers import LabelClassifiers, requested_accuracy
from stages.common import (
    StageError,
    by_instrument_file,
    checkpoint_file,
    checkpoint_name,
    eval_metrics_file,
    grid_point_argument,
    run_stage,
    samples_dir,
    summary_file,
    train_dir,
    train_metrics_file,
    write_csv,
    write_json,
)
from stages.config import Evaluate, load_params
from stages.labels import instrument_names, tensor_labels
from stages.melody_eval import melody_evaluation, read_layout
from stages.reference import RealData, load_real_data, spread

BY_INSTRUMENT_COLUMNS = ("checkpoint", "sampler", "instrument", "clips", "spectral_flatness_in_band", "times_real")
SHORT_NAMES = {
    "samplers": {"euler_maruyama": "em", "predictor_corrector": "pc", "probability_flow_ode": "ode", "heun": "heun"},
    "metrics": {"pitchedness": "pitched", "pitch_accuracy": "pitch_acc", "frechet_distance": "fd"},
}


def summary(test_loss: float, last: dict) -> dict:
    """The last checkpoint's headline numbers under short names: test_loss, bpd, {em, pc, ode, heun}.{pitched, pitch_acc, fd}."""
    numbers = {"test_loss": test_loss, **({"bpd": last["bpd"]} if "bpd" in last else {})}
    for sampler, short in SHORT_NAMES["samplers"].items():
        if sampler in last:
            numbers[short] = {name: last[sampler][metric] for metric, name in SHORT_NAMES["metrics"].items() if metric in last[sampler]}
    return numbers


def last_test_loss(params, point: str) -> float:
    """The test loss the train stage recorded for the last checkpoint."""
    return json.loads(train_metrics_file(point).read_text())[checkpoint_name(params.train.epochs[-1])]["test_loss"]


def heldout_bits_per_dim(checkpoint, real: RealData, settings: Evaluate, seed: int, programs: dict[str, int]) -> dict[str, float]:
    """Mean bits/dim of test clips under a checkpoint, and the NFE it took; {} for STFT tensors.

    A conditional model scores each clip given its own labels (its pitch and instrument).
    """
    bin_width = data_bin_width(real.layout)
    if bin_width is None:
        return {}
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    net, sde, conditioning = load_for_inference(checkpoint, device=device)
    chosen = spread(len(real.test["x"]), settings.likelihood.examples)
    x = real.test["x"][chosen].to(device)
    labels = tensor_labels(conditioning, {key: real.test[key][chosen] for key in ("pitch", "program")}, programs)
    score_fn = score_fn_from_net(net, sde, None if labels is None else labels.to(device))
    generator = torch.Generator(device).manual_seed(seed)
    likelihood = settings.likelihood
    logp, nfe = log_likelihood(score_fn, sde, x, likelihood.rtol, likelihood.atol, likelihood.eps, generator, progress=True)
    return {"bpd": bits_per_dim(logp, x[0].numel(), bin_width).mean().item(), "bpd_nfe": float(nfe)}


def sample_quality(record: dict, samples_file, real: RealData, settings: Evaluate, classifiers: LabelClassifiers) -> dict[str, float]:
    """The four audio numbers of one sampler's samples (`record`, read from `samples_file`); pitch
    accuracy is against the requested pitch when one was asked.

    Plus the share of samples recognised as the requested digit or instrument (stages.classifiers);
    image samples get only that.
    """
    if real.heldout is None:
        return requested_accuracy(classifiers, record, samples_file)
    if "audio" not in record:
        raise StageError(f"{samples_file} holds {sorted(record)}, no 'audio' (N, L) tensor to score")
    requested_pitch = record.get("requested", {}).get("pitch")
    try:
        quality = audio_metrics(
            record["audio"],
            real.layout.sample_rate,
            real.heldout_analysis.embedding,
            settings.periodicity_threshold,
            settings.crepe_model,
            real.pitch_range,
            target_midi=None if requested_pitch is None else torch.tensor(requested_pitch, dtype=torch.float32),
            cutoff_hz=real.cutoff_hz,
        )
    except ValueError as err:
        raise StageError(f"{samples_file}: {err}") from None
    return {**quality, **requested_accuracy(classifiers, record, samples_file)}


def flatness_by_instrument(real: RealData, records: dict, programs: dict[str, int]) -> pd.DataFrame:
    """In-band flatness per instrument: the held-out clips' (checkpoint "reference", sampler "real"),
    then that of each (checkpoint, sampler) record's samples by requested instrument, and how many
    times the held-out clips' of the same instrument it is. No rows for images; no sample rows for
    samples that asked for no instrument.
    """
    if real.heldout is None:
        return pd.DataFrame(columns=BY_INSTRUMENT_COLUMNS)
    names = instrument_names(programs)
    heldout = [names.get(program, f"program_{program}") for program in real.test["program"][real.heldout_index].tolist()]
    rate, cutoff = real.layout.sample_rate, real.cutoff_hz
    reference = flatness_by_group(real.heldout, heldout, rate, cutoff)
    rows = [("reference", "real", name, heldout.count(name), value, 1.0) for name, value in reference.items()]
    for (checkpoint, sampler), record in records.items():
        asked = record.get("requested", {}).get("instrument")
        if asked is None or "audio" not in record:
            continue
        for name, value in flatness_by_group(record["audio"], asked, rate, cutoff).items():
            rows.append((checkpoint, sampler, name, asked.count(name), value, value / reference[name] if name in reference else float("nan")))
    return pd.DataFrame(rows, columns=BY_INSTRUMENT_COLUMNS)


def main() -> None:
    params = load_params()
    point = grid_point_argument(params, "evaluate")
    if params.tensorize.layout == "pianoroll":
        write_json(eval_metrics_file(point), melody_evaluation(read_layout(), params, point))
        write_csv(by_instrument_file(point), pd.DataFrame(columns=BY_INSTRUMENT_COLUMNS))
        write_json(summary_file(point), {"test_loss": last_test_loss(params, point)})
        return
    settings = params.evaluate
    checkpoints = {checkpoint_name(epoch): checkpoint_file(train_dir(point), epoch) for epoch in params.train.epochs}
    samples = {
        (name, sampler): samples_dir(point) / name / sampler / "samples.pt"
        for name in checkpoints
        for sampler in params.sample.samplers
    }
    missing = [str(path) for path in [*checkpoints.values(), *samples.values(), train_metrics_file(point)] if not path.is_file()]
    if missing:
        raise StageError("missing input(s) (run the train and sample stages first):\n  " + "\n  ".join(missing))

    real = load_real_data(settings, params.preprocess.lowpass_hz)
    classifiers = LabelClassifiers(real.layout, params.render.programs)
    metrics, records = {}, {}
    scored = params.sample.samplers
    with progress_bar(total=len(checkpoints) * (1 + len(scored)), desc=f"evaluate@{point}", unit="task") as bar:
        for name, checkpoint in checkpoints.items():
            bar.set_postfix_str(f"{name} bits/dim")
            metrics[name] = heldout_bits_per_dim(checkpoint, real, settings, params.seed, params.render.programs)
            bar.update()
            for sampler in scored:
                bar.set_postfix_str(f"{name} {sampler}")
                records[name, sampler] = torch.load(samples[name, sampler], weights_only=True)
                quality = sample_quality(records[name, sampler], samples[name, sampler], real, settings, classifiers)
                if quality:
                    metrics[name][sampler] = quality
                bar.update()
    write_csv(by_instrument_file(point), flatness_by_instrument(real, records, params.render.programs))
    write_json(eval_metrics_file(point), metrics)
    write_json(summary_file(point), summary(last_test_loss(params, point), metrics[checkpoint_name(params.train.epochs[-1])]))


if __name__ == "__main__":
    run_stage(main)
