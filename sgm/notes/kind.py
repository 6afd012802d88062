"""Single-note clips as a kind of data: rendered from a SoundFont or read from a folder, judged by ear's proxies.

Samples are written as 16-bit WAVs named after what was asked (sample_003_flute_G4.wav) beside
samples.pt; they are judged by CREPE (pitchedness, pitch accuracy, a Frechet distance of its
embeddings), spectral flatness and, for instrument-conditional models, the timbre classifier.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from sgm.audio.dsp import stopband_hz
from sgm.audio.wav import read_wav, write_wav
from sgm.kinds import make_layout
from sgm.kinds.figures import save_png, save_real_clip
from sgm.kinds.kind import CleanData, DataError, DataKind, DataSet, Figures
from sgm.kinds.naming import describe
from sgm.kinds.splits import spread_by
from sgm.notes import evaluation
from sgm.notes.clips import read_clip_set
from sgm.notes.figures import clip_figure, sampler_sheet
from sgm.notes.folder import render_from_folder
from sgm.notes.rendering import render_from_soundfont

SOURCES = {"soundfont": render_from_soundfont, "folder": render_from_folder}
HEADLINE = {  # short name: metric of one sampler's numbers
    "pitched": "pitchedness",
    "at_pitch": "pitch_accuracy",
    "instrument": "instrument_accuracy",
    "in_band": "spectral_flatness_in_band",
    "fd": "frechet_distance",
}


class Notes(DataKind):
    name = "notes"

    def render(self, params, out: Path) -> None:
        counts = SOURCES[params.render.source](params.render, out)
        (out / "metrics.json").write_text(json.dumps(counts, indent=2) + "\n")

    def read_clean(self, params, clean_dir: Path) -> CleanData:
        return read_clip_set(clean_dir, params.render.clip_samples, params.render.sample_rate)

    def layout(self, params, clean: CleanData, clean_dir: Path):
        """The tensorize.layout for the clips, pre-emphasised, limited to the band the preprocess low-pass left."""
        name, tensorize, preprocess = params.tensorize.layout, params.tensorize, params.preprocess
        options = {"preemphasis": tensorize.preemphasis, **(getattr(tensorize, name).model_dump() if hasattr(tensorize, name) else {})}
        if preprocess.lowpass_hz is not None:
            options["band_hz"] = stopband_hz(params.render.sample_rate, preprocess.lowpass_hz, preprocess.lowpass_order)
        try:
            return make_layout(name, clean.data[0].numel(), params.render.sample_rate, kind=self.name, **options)
        except ValueError as err:
            raise DataError(f"tensorize.layout {name!r} does not fit the data {tuple(clean.data.shape[1:])}: {err}") from None

    def save_samples(self, directory: Path, x: torch.Tensor, layout, requests: list[dict]) -> None:
        directory.mkdir(parents=True)
        audio = layout.to_audio(x)
        for i, (clip, request) in enumerate(zip(audio, requests)):
            name = "_".join(filter(None, [f"sample_{i:03d}", describe(request)]))
            write_wav(directory / f"{name}.wav", clip.clamp(-1, 1).numpy(), layout.sample_rate)
        torch.save({"x": x, "requested": requested(requests), "audio": audio}, directory / "samples.pt")

    def reference(self, params, data: DataSet) -> dict:
        return evaluation.reference(params, data)

    def score(self, params, data: DataSet, samples: dict):
        return evaluation.score(params, data, samples)

    def headline(self, checkpoint: dict, sampler: str) -> dict:
        numbers = checkpoint.get(sampler, {})
        short = {name: numbers[metric] for name, metric in HEADLINE.items() if metric in numbers}
        return {**short, **({"bpd": checkpoint["bpd"]} if "bpd" in checkpoint else {})}

    def draw_real(self, out: Path, layout, test: dict, count: int):
        indices = spread_by(test["pitch"], count)
        clips = []
        for n, (i, audio) in enumerate(zip(indices, layout.to_audio(test["x"][indices]).numpy())):
            pitch = int(test["pitch"][i])
            figure = clip_figure(audio, layout.sample_rate, f"real test clip {i} (MIDI pitch {pitch})")
            clips.append(save_real_clip(out, n, i, pitch, figure, audio, layout.sample_rate))
        return clips, None

    def draw_checkpoint(self, out: Path, folder: str, sources, title: str, layout, columns: int) -> Figures:
        samplers, clips = [], {}
        for sampler, source, name in sources:
            pictures, audio = [], []
            for wav in sorted(source.glob("sample_*.wav")):
                clip = read_wav(wav)[0][0]
                png = f"{name}/{wav.stem}.png"
                save_png(clip_figure(clip, layout.sample_rate, f"{title} / {sampler} / {wav.stem}"), out / png)
                pictures.append({"wav": wav.as_posix(), "png": png})
                audio.append(clip)
            samplers.append({"sampler": sampler, "grid": None, "samples": pictures})
            clips[sampler] = np.stack(audio)
        sheet = f"{folder}/sheet.png"
        save_png(sampler_sheet(clips, layout.sample_rate, columns, title), out / sheet)
        return Figures(sheet, samplers)


def requested(requests: list[dict]) -> dict:
    """The requests as samples.pt records them: {kind: one value per sample}."""
    return {kind: [request[kind] for request in requests] for kind in (requests[0] if requests else {})}


KIND = Notes()
