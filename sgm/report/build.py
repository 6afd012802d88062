"""The listening page, report/index.html, built from what the plot and play stages wrote.

It walks the plot index (plots/index.json: the real examples, every point's checkpoints and
samplers with their pictures and WAVs, the charts) and the play index, and puts every sample's
audio player beside its picture, under the results table and the metric charts. Every file the page
shows is copied beside it, so the folder opens from disk anywhere, with no server.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from sgm.report.page import Clip, Download, Figure, Section, render_page

TITLE = "Score-based generative modeling of single notes: samples and results"
KEYS = ("point", "epoch", "sampler")
HEADLINE_COLUMNS = (  # what a reader compares first, in this order; the rest stays in results.csv
    "pitchedness",
    "pitch_accuracy",
    "instrument_accuracy",
    "instrument_accuracy_partials",
    "digit_accuracy",
    "spectral_flatness_in_band",
    "frechet_distance",
    "kernel_distance",
    "pitch_class_distance",
    "in_key_share",
    "bpd",
)
FULL_TABLE = "results.csv"


class Report:
    """Copies files into the page's folder `out` and builds its sections."""

    def __init__(self, out: Path, plots: Path, play: Path):
        self.out, self.plots, self.play = out, plots, play

    def place(self, source: Path, relative: str) -> str:
        """Copy `source` to out/relative and return `relative`.

        A copy, not a hard link: DVC caches report/ as its own output and may make cached files
        read-only, which through a shared inode would reach into the samples and plots outputs too.
        """
        target = self.out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return relative

    def picture(self, png: str) -> str:
        return self.place(self.plots / png, f"plots/{png}")

    def charts(self, index: dict) -> Section:
        figures = tuple(Figure(self.picture(c["png"]), f"{c['metric']} against {c['x']}") for c in index["charts"])
        text = "" if figures else "No metric varies over two or more settings of a hyperparameter yet."
        return Section("Metrics against hyperparameters", text=text, figures=figures)

    def real(self, index: dict) -> Section:
        """Real test examples: their WAVs beside their pictures, or the real images' mosaic."""
        title = "Real test clips"
        if index["real_grid"] is not None:
            return Section(title, figures=(Figure(self.picture(index["real_grid"]), "real test images"),))
        clips = tuple(
            Clip(real["caption"], audio=self.place(self.plots / real["wav"], f"audio/{real['wav']}"), image=self.picture(real["png"]))
            for real in index["real_clips"]
        )
        return Section(title, clips=clips)

    def point(self, point: dict, description: str) -> Section:
        """One grid point: per checkpoint, the sampler sheet, then each sampler's players and pictures."""
        checkpoints = []
        for checkpoint in point["checkpoints"]:
            samplers = []
            for sampler in checkpoint["samplers"]:
                clips = tuple(self.sample(sample) for sample in sampler["samples"])
                figures = (Figure(self.picture(sampler["grid"]), "samples"),) if sampler["grid"] else ()
                samplers.append(Section(sampler["sampler"], figures=figures, clips=clips))
            sheet = (Figure(self.picture(checkpoint["sheet"]), "spectrograms by sampler"),) if checkpoint["sheet"] else ()
            checkpoints.append(Section(checkpoint["epoch"], figures=sheet, sections=tuple(samplers)))
        return Section(point["point"], text=description, sections=tuple(checkpoints))

    def sample(self, sample: dict) -> Clip:
        """A sample's WAV, placed under audio/ at its picture's path, beside its picture."""
        wav = Path(sample["wav"])
        return Clip(wav.stem, audio=self.place(wav, f"audio/{Path(sample['png']).with_suffix('.wav')}"), image=self.picture(sample["png"]))

    def listening(self) -> list[Section]:
        """The play stage's examples, when it ran."""
        index_file = self.play / "index.json"
        if not index_file.is_file():
            return []
        index = json.loads(index_file.read_text())
        items = []
        for item in index["items"]:
            clips = tuple(
                Clip(clip["caption"], audio=self.place(self.play / clip["wav"], f"play/{clip['wav']}"), image=self.place(self.play / clip["png"], f"play/{clip['png']}"))
                for clip in item["clips"]
            )
            figures = tuple(Figure(self.place(self.play / f["png"], f"play/{f['png']}"), f["caption"]) for f in item["figures"])
            downloads = tuple(Download(self.place(self.play / d["file"], f"play/{d['file']}"), d["caption"]) for d in item["downloads"])
            items.append(Section(item["title"], text=item["text"], figures=figures, clips=clips, downloads=downloads))
        text = f"grid point {index['point']}, checkpoint of epoch {index['epoch']} (python -m stages.play; sgm-generate does the same from the command line)"
        return [Section("Play", text=text, sections=tuple(items))]


def headline_table(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of results.csv with the headline columns first and only those that hold a value."""
    columns = [c for c in (*KEYS, *HEADLINE_COLUMNS) if c in table.columns and (c in KEYS or table[c].notna().any())]
    return table[columns]


def build_report(out: Path, plots: Path, play: Path, results: Path, descriptions: dict[str, str]) -> None:
    """Write index.html and every file it shows into `out`; `descriptions` says what each grid point is."""
    index = json.loads((plots / "index.json").read_text())
    report = Report(out, plots, play)
    sections = [
        report.charts(index),
        report.real(index),
        *(report.point(point, descriptions.get(point["point"], "")) for point in index["points"]),
        *report.listening(),
    ]
    report.place(results, FULL_TABLE)
    page = render_page(TITLE, sections, headline_table(pd.read_csv(results)), full_table=FULL_TABLE)
    (out / "index.html").write_text(page, encoding="utf-8")
