"""How notes are judged: the held-out clips, the references, and the numbers of each sampler's samples.

Samples are compared with `evaluate.heldout_clips` test clips spread over the test set (which is
ordered by instrument), analysed by CREPE once. The references, at the samples' set size
`sample.n_samples`: `real`, the held-out clips themselves (their Frechet distance is that of
random training clips to them: the data-vs-data value), and `shaped_noise`, random-phase noise with
the training set's mean magnitude spectrum (the study's failure mode), scored like samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from sgm.kinds.frechet import frechet_distance
from sgm.kinds.kind import BY_INSTRUMENT_COLUMNS, DataError, DataSet
from sgm.kinds.naming import instrument_names
from sgm.kinds.splits import spread
from sgm.notes.crepe import CrepeAnalysis, analyze
from sgm.notes.judges import InstrumentJudge
from sgm.notes.metrics import (
    audio_metrics,
    flatness_by_group,
    mean_magnitude_spectrum,
    pitch_accuracy,
    pitch_range,
    pitchedness,
    shaped_noise,
    spectral_flatness,
)

SPECTRUM_BATCH = 256


@dataclass(frozen=True)
class HeldOut:
    """What samples are compared with: held-out clips, their CREPE view and the data's pitch range."""

    clips: torch.Tensor  # (N, L) audio
    analysis: CrepeAnalysis
    index: torch.Tensor  # which test clips they are
    pitch_range: tuple[int, int] | None
    cutoff_hz: float | None  # the data's low-pass cutoff: in-band flatness stops there


def held_out(data: DataSet, settings, cutoff_hz: float | None) -> HeldOut:
    """Analyse `settings.heldout_clips` test clips, spread over the test set, once (settings: params.evaluate)."""
    index = spread(len(data.test["x"]), settings.heldout_clips)
    clips = data.layout.to_audio(data.test["x"][index])
    if len(clips) < 2:
        raise DataError(f"{data.test_file or 'the test split'} gives {len(clips)} held-out clip(s); the Frechet distance needs at least 2")
    pitches = pitch_range(torch.cat([data.train["pitch"], data.test["pitch"]]))
    return HeldOut(clips, analyze(clips, data.layout.sample_rate, settings.crepe_model), index, pitches, cutoff_hz)


def reference(params, data: DataSet) -> dict:
    """{"real": the held-out clips' numbers (and the instrument judges' accuracy on them), "shaped_noise": ...,
    and with instruments to tell apart "judges": the judges on noisy and pitch-shifted held-out clips}."""
    settings = params.evaluate
    heldout = held_out(data, settings, params.preprocess.lowpass_hz)
    judge = InstrumentJudge(data, heldout.cutoff_hz)
    train_x = data.train["x"]
    n = params.sample.n_samples
    if not 2 <= n <= len(train_x):
        raise DataError(f"sample.n_samples={n}: the references need 2 <= n_samples <= {len(train_x)} training clips")
    generator = torch.Generator().manual_seed(params.seed)
    chosen = torch.randperm(len(train_x), generator=generator)[:n].sort().values
    layout = data.layout
    spectrum = mean_magnitude_spectrum(layout.to_audio(train_x[start : start + SPECTRUM_BATCH]) for start in range(0, len(train_x), SPECTRUM_BATCH))
    noise = shaped_noise(spectrum, n, layout.clip_samples, generator)
    threshold, rate = settings.periodicity_threshold, layout.sample_rate
    train_embedding = analyze(layout.to_audio(train_x[chosen]), rate, settings.crepe_model).embedding
    real = {
        "pitchedness": pitchedness(heldout.analysis, threshold),
        "pitch_accuracy": pitch_accuracy(heldout.analysis, threshold, pitch_range=heldout.pitch_range),
        "spectral_flatness": spectral_flatness(heldout.clips),
        "spectral_flatness_in_band": spectral_flatness(heldout.clips, rate, heldout.cutoff_hz),
        "frechet_distance": frechet_distance(train_embedding, heldout.analysis.embedding),
        **judge.heldout_accuracy(),
    }
    noise_metrics = audio_metrics(
        noise, rate, heldout.analysis.embedding, threshold, settings.crepe_model, heldout.pitch_range, cutoff_hz=heldout.cutoff_hz
    )
    robustness = judge.robustness(params.seed)
    return {"real": real, "shaped_noise": noise_metrics, **({"judges": robustness} if robustness else {})}


def sample_quality(record: dict, source, heldout: HeldOut, settings, judge: InstrumentJudge, sample_rate: int) -> dict[str, float]:
    """The audio numbers of one sampler's samples (`record`, read from `source`); pitch accuracy is
    against the requested pitch when one was asked, plus the share recognised as the requested instrument."""
    if "audio" not in record:
        raise DataError(f"{source} holds {sorted(record)}, no 'audio' (N, L) tensor to score")
    requested_pitch = record.get("requested", {}).get("pitch")
    try:
        quality = audio_metrics(
            record["audio"],
            sample_rate,
            heldout.analysis.embedding,
            settings.periodicity_threshold,
            settings.crepe_model,
            heldout.pitch_range,
            target_midi=None if requested_pitch is None else torch.tensor(requested_pitch, dtype=torch.float32),
            cutoff_hz=heldout.cutoff_hz,
        )
    except ValueError as err:
        raise DataError(f"{source}: {err}") from None
    return {**quality, **judge.requested_accuracy(record, source)}


def flatness_by_instrument(heldout: HeldOut, data: DataSet, records: dict) -> pd.DataFrame:
    """In-band flatness per instrument: the held-out clips' (checkpoint "reference", sampler "real"),
    then that of each (checkpoint, sampler) record's samples by requested instrument, and how many
    times the held-out clips' of the same instrument it is. No sample rows for samples that asked for
    no instrument: a mean over instruments hides which one is off.
    """
    names = instrument_names(data.label_names)
    asked_of_heldout = [names(program) for program in data.test["program"][heldout.index].tolist()]
    rate, cutoff = data.layout.sample_rate, heldout.cutoff_hz
    reference = flatness_by_group(heldout.clips, asked_of_heldout, rate, cutoff)
    rows = [("reference", "real", name, asked_of_heldout.count(name), value, 1.0) for name, value in reference.items()]
    for (checkpoint, sampler), record in records.items():
        asked = record.get("requested", {}).get("instrument")
        if asked is None or "audio" not in record:
            continue
        for name, value in flatness_by_group(record["audio"], asked, rate, cutoff).items():
            rows.append((checkpoint, sampler, name, asked.count(name), value, value / reference[name] if name in reference else float("nan")))
    return pd.DataFrame(rows, columns=BY_INSTRUMENT_COLUMNS)


def score(params, data: DataSet, samples: dict) -> tuple[dict, pd.DataFrame]:
    """The numbers of every (checkpoint, sampler) samples.pt in `samples`, and in-band flatness by instrument."""
    settings = params.evaluate
    heldout = held_out(data, settings, params.preprocess.lowpass_hz)
    judge = InstrumentJudge(data, heldout.cutoff_hz)
    records = {key: torch.load(path, weights_only=True) for key, path in samples.items()}
    numbers = {key: sample_quality(records[key], samples[key], heldout, settings, judge, data.layout.sample_rate) for key in samples}
    return numbers, flatness_by_instrument(heldout, data, records)
