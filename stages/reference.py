"""Score the two references every model is judged against: python -m stages.reference.

- real: the held-out test clips, the best a model can do. Their Frechet distance is that of
  n_samples random training clips to the held-out clips: the data-vs-data value, at the same set
  size the samples of each model are scored with.
- shaped_noise: n_samples clips of random-phase noise with the training set's mean magnitude
  spectrum, the study's failure mode, scored like samples.
The real row also holds the accuracy of the instrument or digit classifier (stages.classifiers,
fitted on the training split) on all held-out clips or images: what conditional samples are held to.
Writes results/reference/metrics.json {"real": {...}, "shaped_noise": {...}}. Image data sets
have no audio to score: they get only the digit accuracy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch

from sgm.embeddings import CrepeAnalysis, analyze
from sgm.layouts import Layout, layout_from_dict
from sgm.metrics import (
    audio_metrics,
    frechet_distance,
    mean_magnitude_spectrum,
    pitch_accuracy,
    pitch_range,
    pitchedness,
    shaped_noise,
    spectral_flatness,
)
from stages.classifiers import LabelClassifiers, heldout_accuracy
from stages.common import REFERENCE_FILE, TENSORS_DIR, StageError, run_stage, write_json
from stages.config import Evaluate, load_params

TENSOR_FILES = ("layout.json", "train.pt", "test.pt")
SPECTRUM_BATCH = 256


@dataclass(frozen=True)
class RealData:
    """What samples are compared with: held-out clips, their CREPE view and the pitch range."""

    layout: Layout
    test: dict
    heldout: torch.Tensor | None  # (N, L) audio; None for images
    heldout_analysis: CrepeAnalysis | None
    pitch_range: tuple[int, int] | None
    cutoff_hz: float | None = None  # the data's low-pass cutoff: in-band flatness stops there
    heldout_index: torch.Tensor | None = None  # which test clips `heldout` holds


def spread(total: int, n: int | None) -> torch.Tensor:
    """Indices of n items (all if n is None) spread evenly over `total`: the test set is ordered by instrument."""
    n = total if n is None else min(n, total)
    return torch.linspace(0, total - 1, n).round().long()


def load_real_data(settings: Evaluate, cutoff_hz: float | None) -> RealData:
    """Read data/tensors and analyse `heldout_clips` test clips, spread over the test set, once."""
    missing = [str(TENSORS_DIR / name) for name in TENSOR_FILES if not (TENSORS_DIR / name).is_file()]
    if missing:
        raise StageError(f"missing input(s) {', '.join(missing)} (run the tensorize stage first)")
    layout = layout_from_dict(json.loads((TENSORS_DIR / "layout.json").read_text()))
    test = torch.load(TENSORS_DIR / "test.pt", weights_only=True)
    train_pitch = torch.load(TENSORS_DIR / "train.pt", weights_only=True, mmap=True)["pitch"]
    pitches = pitch_range(torch.cat([train_pitch, test["pitch"]]))
    if layout.name == "image":
        return RealData(layout, test, None, None, pitches)
    index = spread(len(test["x"]), settings.heldout_clips)
    heldout = layout.to_audio(test["x"][index])
    if len(heldout) < 2:
        raise StageError(
            f"{TENSORS_DIR / 'test.pt'} gives {len(heldout)} held-out clip(s); the Frechet distance needs at least 2"
        )
    return RealData(layout, test, heldout, analyze(heldout, layout.sample_rate, settings.crepe_model), pitches, cutoff_hz, index)


def real_metrics(real: RealData, train_clips: torch.Tensor, settings: Evaluate) -> dict[str, float]:
    """The held-out clips' numbers; Frechet distance from `train_clips` to them."""
    threshold = settings.periodicity_threshold
    train_embedding = analyze(train_clips, real.layout.sample_rate, settings.crepe_model).embedding
    return {
        "pitchedness": pitchedness(real.heldout_analysis, threshold),
        "pitch_accuracy": pitch_accuracy(real.heldout_analysis, threshold, pitch_range=real.pitch_range),
        "spectral_flatness": spectral_flatness(real.heldout),
        "spectral_flatness_in_band": spectral_flatness(real.heldout, real.layout.sample_rate, real.cutoff_hz),
        "frechet_distance": frechet_distance(train_embedding, real.heldout_analysis.embedding),
    }


def main() -> None:
    params = load_params()
    settings = params.evaluate
    if params.tensorize.layout == "pianoroll":
        from stages.melody_eval import melody_reference, read_layout

        write_json(REFERENCE_FILE, melody_reference(read_layout(), params))
        return
    real = load_real_data(settings, params.preprocess.lowpass_hz)
    recognised = heldout_accuracy(LabelClassifiers(real.layout, params.render.programs), real.test)
    if real.heldout is None:
        write_json(REFERENCE_FILE, {"real": recognised, "shaped_noise": {}})
        return
    train_x = torch.load(TENSORS_DIR / "train.pt", weights_only=True, mmap=True)["x"]
    n = params.sample.n_samples
    if not 2 <= n <= len(train_x):
        raise StageError(f"sample.n_samples={n}: the references need 2 <= n_samples <= {len(train_x)} training clips")
    generator = torch.Generator().manual_seed(params.seed)
    chosen = torch.randperm(len(train_x), generator=generator)[:n].sort().values
    spectrum = mean_magnitude_spectrum(
        real.layout.to_audio(train_x[start : start + SPECTRUM_BATCH]) for start in range(0, len(train_x), SPECTRUM_BATCH)
    )
    noise = shaped_noise(spectrum, n, real.layout.clip_samples, generator)
    write_json(
        REFERENCE_FILE,
        {
            "real": {**real_metrics(real, real.layout.to_audio(train_x[chosen]), settings), **recognised},
            "shaped_noise": audio_metrics(
                noise,
                real.layout.sample_rate,
                real.heldout_analysis.embedding,
                settings.periodicity_threshold,
                settings.crepe_model,
                real.pitch_range,
                cutoff_hz=real.cutoff_hz,
            ),
        },
    )


if __name__ == "__main__":
    run_stage(main)
