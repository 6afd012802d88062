"""How notes are judged: the held-out clips, the references, and the numbers of each sampler's samples.

Samples are compared with `evaluate.heldout_clips` test clips spread over the test set (which is
ordered by instrument), analysed by CREPE once. The references, at the samples' set size
`sample.n_samples`: `real`, the held-out clips themselves (their Frechet and kernel distances are
those of random training clips to them: the data-vs-data values), and `shaped_noise`, random-phase
noise with the training set's mean magnitude spectrum (the study's failure mode), scored like samples.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from sgm.kinds.kind import BY_INSTRUMENT_COLUMNS, DataError, DataSet
from sgm.kinds.naming import instrument_names
from sgm.kinds.splits import spread
from sgm.notes.crepe import CrepeAnalysis, analyze
from sgm.notes.judges import InstrumentJudge, shares
from sgm.notes.metrics import (
    EMBEDDING_DISTANCES,
    audio_metrics,
    embedding_distances,
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
        **embedding_distances(train_embedding, heldout.analysis.embedding),
        **judge.heldout_accuracy(),
    }
    noise_metrics = audio_metrics(
        noise, rate, heldout.analysis.embedding, threshold, settings.crepe_model, heldout.pitch_range, cutoff_hz=heldout.cutoff_hz
    )
    robustness = judge.robustness(params.seed)
    return {"real": real, "shaped_noise": noise_metrics, **({"judges": robustness} if robustness else {})}


@dataclass(frozen=True)
class Judged:
    """Clips with what each was meant to be (the requested or labelled instrument), their CREPE
    embeddings and each judge's instrument per clip: what the by-instrument table splits."""

    audio: torch.Tensor  # (N, L)
    instruments: list[str]
    embedding: torch.Tensor  # (N, channels)
    verdicts: dict[str, np.ndarray]  # judge: (N,) instruments


def sample_quality(record: dict, source, heldout: HeldOut, settings, judge: InstrumentJudge, sample_rate: int) -> tuple[dict[str, float], Judged | None]:
    """The audio numbers of one sampler's samples (`record`, read from `source`) - pitch accuracy is
    against the requested pitch when one was asked, plus each judge's share recognised as the
    requested instrument - and, when instruments were asked for, the samples as judged."""
    if "audio" not in record:
        raise DataError(f"{source} holds {sorted(record)}, no 'audio' (N, L) tensor to score")
    audio = record["audio"]
    requested_pitch = record.get("requested", {}).get("pitch")
    try:
        analysis = analyze(audio, sample_rate, settings.crepe_model)
        quality = audio_metrics(
            audio,
            sample_rate,
            heldout.analysis.embedding,
            settings.periodicity_threshold,
            settings.crepe_model,
            heldout.pitch_range,
            target_midi=None if requested_pitch is None else torch.tensor(requested_pitch, dtype=torch.float32),
            cutoff_hz=heldout.cutoff_hz,
            analysis=analysis,
        )
    except ValueError as err:
        raise DataError(f"{source}: {err}") from None
    verdicts = judge.requested_verdicts(record, source)
    asked = record.get("requested", {}).get("instrument")
    judged = None if asked is None else Judged(audio, list(asked), analysis.embedding, verdicts)
    return {**quality, **shares(verdicts, asked)}, judged


def judged_heldout(heldout: HeldOut, data: DataSet, judge: InstrumentJudge) -> Judged:
    """The held-out clips as judged (no verdicts where there are no instruments to tell apart)."""
    names = instrument_names(data.label_names)
    verdicts = judge.verdicts(heldout.clips, data.test["pitch"][heldout.index]) if judge.applies() else {}
    return Judged(heldout.clips, [names(program) for program in data.test["program"][heldout.index].tolist()], heldout.analysis.embedding, verdicts)


def training_embeddings(data: DataSet, counts: Counter, crepe_model: str) -> dict[str, torch.Tensor]:
    """CREPE embeddings of `counts[name]` training clips of each instrument (spread over its clips):
    the data-vs-data distances of each instrument's held-out clips."""
    names = instrument_names(data.label_names)
    train_names = np.array([names(program) for program in data.train["program"].tolist()])
    chosen = {name: np.flatnonzero(train_names == name) for name in counts}
    chosen = {name: index[spread(len(index), counts[name]).numpy()] for name, index in chosen.items() if len(index)}
    if not chosen:
        return {}
    everything = np.concatenate(list(chosen.values()))
    embedding = analyze(data.layout.to_audio(data.train["x"][torch.from_numpy(everything)]), data.layout.sample_rate, crepe_model).embedding
    ends = np.cumsum([len(index) for index in chosen.values()])
    return dict(zip(chosen, torch.tensor_split(embedding, ends[:-1].tolist())))


def by_instrument(real: Judged, train_embeddings: dict[str, torch.Tensor], samples: dict[tuple[str, str], Judged], rate: int, cutoff_hz: float | None) -> pd.DataFrame:
    """Per instrument: in-band flatness, the Frechet and kernel distances to the held-out clips of
    the same instrument and each judge's accuracy, first of the held-out clips (checkpoint "reference",
    sampler "real"; their distances are those of as many training clips), then of each (checkpoint,
    sampler)'s samples by requested instrument, with their flatness as times the held-out clips'.
    A mean over instruments hides which one is off."""
    real_flatness = flatness_by_group(real.audio, real.instruments, rate, cutoff_hz)
    rows = []
    for (checkpoint, sampler), clips in [(("reference", "real"), real), *samples.items()]:
        for name, flatness in flatness_by_group(clips.audio, clips.instruments, rate, cutoff_hz).items():
            mine = members(clips.instruments, name)
            embedding = train_embeddings.get(name) if clips is real else clips.embedding[mine]
            rows.append({
                "checkpoint": checkpoint, "sampler": sampler, "instrument": name, "clips": len(mine), "spectral_flatness_in_band": flatness,
                "times_real": flatness / real_flatness.get(name, math.nan),
                **distances(embedding, real.embedding[members(real.instruments, name)]),
                **shares({judge: said[mine] for judge, said in clips.verdicts.items()}, [name] * len(mine)),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=BY_INSTRUMENT_COLUMNS)


def members(instruments: list[str], name: str) -> list[int]:
    return [index for index, instrument in enumerate(instruments) if instrument == name]


def distances(ours: torch.Tensor | None, theirs: torch.Tensor) -> dict[str, float]:
    """The embedding distances of two sets; NaN when either has fewer than two."""
    if ours is not None and min(len(ours), len(theirs)) >= 2:
        return embedding_distances(ours, theirs)
    return dict.fromkeys(EMBEDDING_DISTANCES, math.nan)


def score(params, data: DataSet, samples: dict) -> tuple[dict, pd.DataFrame]:
    """The numbers of every (checkpoint, sampler) samples.pt in `samples`, and the by-instrument table."""
    settings = params.evaluate
    heldout = held_out(data, settings, params.preprocess.lowpass_hz)
    judge = InstrumentJudge(data, heldout.cutoff_hz)
    rate = data.layout.sample_rate
    numbers, judged = {}, {}
    for key, source in samples.items():
        numbers[key], judged_samples = sample_quality(torch.load(source, weights_only=True), source, heldout, settings, judge, rate)
        if judged_samples is not None:
            judged[key] = judged_samples
    real = judged_heldout(heldout, data, judge)
    train_embeddings = training_embeddings(data, Counter(real.instruments), settings.crepe_model)
    return numbers, by_instrument(real, train_embeddings, judged, rate, heldout.cutoff_hz)
