"""Melodies as a kind of data: Bach chorales (or the user's scores) as 3 x 32 x 32 piano rolls.

Samples are written as MIDI files and as WAVs played on the default SoundFont beside samples.pt,
and judged by note statistics and distances to held-out segments (sgm.melodies.metrics).
"""

from __future__ import annotations

from pathlib import Path

import torch

from sgm.audio.wav import write_wav
from sgm.kinds.figures import save_png, save_real_clip
from sgm.kinds.kind import CleanData, DataKind, DataSet, Figures, empty_by_instrument
from sgm.kinds.splits import spread_by
from sgm.melodies import evaluation
from sgm.melodies.figures import pianoroll_figure
from sgm.melodies.scores import read_roll_set, render_from_melody, roll_layout

HEADLINE = {"fd": "frechet_distance", "pitch_classes": "pitch_class_distance", "in_key": "in_key_share"}


class Melodies(DataKind):
    name = "melodies"

    def render(self, params, out: Path) -> None:
        render_from_melody(params.render, out)

    def read_clean(self, params, clean_dir: Path) -> CleanData:
        return read_roll_set(clean_dir)

    def layout(self, params, clean: CleanData, clean_dir: Path):
        return roll_layout(clean_dir, params.render.sample_rate)

    def save_samples(self, directory: Path, x: torch.Tensor, layout, requests: list[dict]) -> None:
        directory.mkdir(parents=True)
        audio = layout.to_audio(x)
        for i, clip in enumerate(audio):
            write_wav(directory / f"sample_{i:03d}.wav", clip.clamp(-1, 1).numpy(), layout.sample_rate)
        for i, roll in enumerate(layout.to_rolls(x)):
            layout.to_midi(roll).write(str(directory / f"sample_{i:03d}.mid"))
        requested = {kind: [request[kind] for request in requests] for kind in (requests[0] if requests else {})}
        torch.save({"x": x, "requested": requested, "audio": audio}, directory / "samples.pt")

    def reference(self, params, data: DataSet) -> dict:
        return evaluation.reference(params, data)

    def score(self, params, data: DataSet, samples: dict):
        return evaluation.score(params, data, samples), empty_by_instrument()

    def headline(self, checkpoint: dict, sampler: str) -> dict:
        numbers = checkpoint.get(sampler, {})
        return {name: numbers[metric] for name, metric in HEADLINE.items() if metric in numbers}

    def draw_real(self, out: Path, layout, test: dict, count: int):
        indices = spread_by(test["pitch"], count)
        x = test["x"][indices]
        clips = [
            save_real_clip(out, n, i, int(test["pitch"][i]), pianoroll_figure(roll, layout.pitch_low, f"real test segment {i}"), audio, layout.sample_rate)
            for n, (i, roll, audio) in enumerate(zip(indices, layout.to_rolls(x).numpy(), layout.to_audio(x).numpy()))
        ]
        return clips, None

    def draw_checkpoint(self, out: Path, folder: str, sources, title: str, layout, columns: int) -> Figures:
        samplers = []
        for sampler, source, name in sources:
            rolls = layout.to_rolls(torch.load(source / "samples.pt", weights_only=True)["x"]).numpy()
            pictures = []
            for i, roll in enumerate(rolls):
                png = f"{name}/sample_{i:03d}.png"
                save_png(pianoroll_figure(roll, layout.pitch_low, f"{title} / {sampler} / sample_{i:03d}"), out / png)
                pictures.append({"wav": (source / f"sample_{i:03d}.wav").as_posix(), "png": png})
            samplers.append({"sampler": sampler, "grid": None, "samples": pictures})
        return Figures(None, samplers)


KIND = Melodies()
