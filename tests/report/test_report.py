"""The report page: escaping, self-containment, the plot and report stages on pipeline-shaped
outputs written here, and the page as headless Chromium loads it."""

from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch
import yaml
from PIL import Image

from sgm.audio.wav import write_wav
from sgm.kinds import make_layout
from sgm.report.page import Clip, Download, Figure, Section, render_page
from stages import plot, report
from stages.common.outputs import StageError
from tests.helpers.browser import inspect_page
from tests.helpers.study_params import with_data_of

REPO = Path(__file__).resolve().parents[2]
SAMPLE_RATE = 44100
CLIP = 16384  # 0.37152 s at 44.1 kHz, the study's clip
POINTS = {"<b>x": 1e-4, "plain-1e-3": 1e-3}
SAMPLERS = ["euler_maruyama", "probability_flow_ode"]
SAMPLES_PER_SAMPLER = 2
REAL_CLIPS = 2


class Tags(HTMLParser):
    """Collects every start tag with its attributes, and the text inside each heading."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.headings: list[str] = []
        self._in_heading = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_heading = tag in ("h1", "h2", "h3", "h4")
        if self._in_heading:
            self.headings.append("")

    def handle_endtag(self, tag):
        self._in_heading = False

    def handle_data(self, data):
        if self._in_heading:
            self.headings[-1] += data

    def sources(self, tag: str) -> list[str]:
        return [attrs["src"] for name, attrs in self.tags if name == tag]


def sine(frequency: float, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * frequency * np.arange(CLIP) / SAMPLE_RATE)).astype(np.float32)


def write_params(root: Path, data_of: str = "study") -> None:
    """The study's params, or those with another preset's kind of data, on the shapes written here."""
    params = with_data_of(data_of)
    params["render"].update(sample_rate=SAMPLE_RATE, clip_samples=CLIP)
    params["grid"] = {name: {"arch": "b4-32to256", "lr": lr} for name, lr in POINTS.items()}
    params["play"]["point"] = next(iter(POINTS))
    params["train"]["epochs"] = [1]
    params["sample"].update(samplers=SAMPLERS, n_samples=SAMPLES_PER_SAMPLER)
    params["plot"].update(real_clips=REAL_CLIPS, sheet_columns=2)
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def write_results(root: Path) -> None:
    rows = [
        {"point": point, "epoch": "epoch_001", "sampler": sampler, "frechet_distance": 10 * lr + s,
         "bpd": 5.0 + s, "pitch_accuracy": 0.25 * s}
        for point, lr in POINTS.items()
        for s, sampler in enumerate(SAMPLERS)
    ]
    (root / "results").mkdir()
    pd.DataFrame(rows).to_csv(root / "results" / "results.csv", index=False)


def write_audio_outputs(root: Path) -> None:
    """Tensors of four test sines, sample WAVs (a sine and white noise per sampler) and results."""
    tensors = root / "data" / "tensors"
    tensors.mkdir(parents=True)
    layout = make_layout("waveform2d", CLIP, SAMPLE_RATE, scale=2.0)
    pitches = torch.tensor([67, 55, 79, 60])
    audio = torch.from_numpy(np.stack([sine(440.0 * 2 ** ((p - 69) / 12)) for p in pitches.tolist()]))
    (tensors / "layout.json").write_text(json.dumps(layout.to_dict()))
    torch.save({"x": layout.to_model(audio), "pitch": pitches}, tensors / "test.pt")
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, CLIP).astype(np.float32)
    for point in POINTS:
        for sampler in SAMPLERS:
            folder = root / "runs" / point / "samples" / "epoch_001" / sampler
            folder.mkdir(parents=True)
            clips = [sine(220.0), noise][:SAMPLES_PER_SAMPLER]
            for i, clip in enumerate(clips):
                write_wav(folder / f"sample_{i:03d}.wav", clip, SAMPLE_RATE)
            torch.save({"audio": torch.from_numpy(np.stack(clips))}, folder / "samples.pt")
    write_results(root)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A directory laid out like the pipeline's outputs, after the plot and report stages ran in it."""
    root = tmp_path_factory.mktemp("pipeline")
    write_params(root)
    write_audio_outputs(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        plot.main()
        report.main()
    return root


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def test_render_page_escapes_names_table_and_paths():
    table = pd.DataFrame({"point": ["<b>x"], "frechet_distance": [1.5]})
    section = Section("<b>x", text="lr & <i>", clips=(Clip("<b>x / em", audio="audio/<b>x/a b.wav", image="p/<b>x.png"),))
    page = render_page("t<script>", [section], table)
    parsed = Tags(page)
    assert not any(tag in ("b", "i", "script") for tag, _ in parsed.tags)
    assert "&lt;b&gt;x" in page and "lr &amp; &lt;i&gt;" in page
    assert parsed.headings == ["t<script>", "Results", "<b>x"]
    assert parsed.sources("audio") == ["audio/%3Cb%3Ex/a%20b.wav"]
    assert parsed.sources("img") == ["p/%3Cb%3Ex.png"]


def test_render_page_nests_sections_and_keeps_order():
    leaf = Section("sampler", clips=(Clip("a", audio="a.wav", image="a.png"), Clip("b", audio="b.wav")))
    page = render_page("title", [Section("point", figures=(Figure("sheet.png", "sheet"),), sections=(leaf,))])
    parsed = Tags(page)
    assert [name for name, _ in parsed.tags if name in ("h1", "h2", "h3")] == ["h1", "h2", "h3"]
    assert parsed.sources("img") == ["sheet.png", "a.png"]
    assert parsed.sources("audio") == ["a.wav", "b.wav"]
    assert all(attrs["preload"] == "metadata" and "controls" in attrs for name, attrs in parsed.tags if name == "audio")


def test_render_page_links_downloads_escaped():
    page = render_page("t", [Section("Instrument", text="x", downloads=(Download("play/in <b>.sf2", "the <b> SoundFont"),))])
    assert '<a class="download" href="play/in%20%3Cb%3E.sf2" download>the &lt;b&gt; SoundFont</a>' in page
    with pytest.raises(ValueError, match="relative paths inside"):
        render_page("t", [Section("s", downloads=(Download("../x.sf2", "x"),))])


@pytest.mark.parametrize("path", ["../outside.wav", "/abs/a.png", "javascript:alert(1)", "C:\\a.png", ""])
def test_render_page_refuses_files_outside_the_page_folder(path):
    with pytest.raises(ValueError, match="relative paths inside"):
        render_page("t", [Section("s", clips=(Clip("c", audio=path),))])


def test_plot_stage_indexes_a_picture_for_every_sample(built):
    index = json.loads((built / "plots" / "index.json").read_text())
    assert index["layout"] == "waveform2d" and index["real_grid"] is None
    assert [p["point"] for p in index["points"]] == list(POINTS)
    assert [r["pitch"] for r in index["real_clips"]] == [55, 79]  # lowest and highest of 4
    samples = [s for p in index["points"] for c in p["checkpoints"] for m in c["samplers"] for s in m["samples"]]
    assert len(samples) == len(POINTS) * len(SAMPLERS) * SAMPLES_PER_SAMPLER
    for png in [s["png"] for s in samples] + [r["png"] for r in index["real_clips"]]:
        assert re.fullmatch(r"[A-Za-z0-9_/-]+\.png", png), png
        assert png_size(built / "plots" / png) == (640, 480)
    sheets = [c["sheet"] for p in index["points"] for c in p["checkpoints"]]
    assert [png_size(built / "plots" / s) for s in sheets] == [(2 * 240, 2 * 180 + 40)] * len(POINTS)
    # lr is the only hyperparameter with two settings in this grid
    metrics = ["frechet_distance", "bpd", "pitch_accuracy"]
    assert [(c["metric"], c["x"]) for c in index["charts"]] == [(m, "lr") for m in metrics]


def test_report_folder_is_self_contained(built):
    page = built / "report" / "index.html"
    parsed = Tags(page.read_text())
    sources = parsed.sources("img") + parsed.sources("audio")
    assert len(parsed.sources("audio")) == len(POINTS) * len(SAMPLERS) * SAMPLES_PER_SAMPLER + REAL_CLIPS
    for src in sources:
        assert (built / "report" / unquote(src)).resolve().is_relative_to((built / "report").resolve()), src
        assert (built / "report" / unquote(src)).is_file(), src
    index = json.loads((built / "plots" / "index.json").read_text())
    samples = [s for p in index["points"] for c in p["checkpoints"] for m in c["samplers"] for s in m["samples"]]
    for sample in samples:
        copy = built / "report" / "audio" / Path(sample["png"]).with_suffix(".wav")
        assert copy.read_bytes() == (built / sample["wav"]).read_bytes()
    real = soundfile.info(built / "report" / "audio" / "real" / "real_000.wav")
    assert (real.frames, real.samplerate, real.channels) == (CLIP, SAMPLE_RATE, 1)
    assert "&lt;b&gt;x" in page.read_text() and "<b>x" in parsed.headings


def test_plot_stage_lists_every_missing_sample_folder(tmp_path, monkeypatch):
    write_params(tmp_path)
    write_audio_outputs(tmp_path)
    for point in POINTS:
        shutil.rmtree(tmp_path / "runs" / point / "samples" / "epoch_001" / SAMPLERS[1])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StageError, match="2 sample folder") as err:
        plot.main()
    assert all(f"runs/{point}/samples/epoch_001/{SAMPLERS[1]}" in str(err.value) for point in POINTS)
    assert not (tmp_path / "plots").exists()


def test_plot_stage_names_metrics_missing_from_results(tmp_path, monkeypatch):
    write_params(tmp_path)
    write_audio_outputs(tmp_path)
    table = pd.read_csv(tmp_path / "results" / "results.csv").drop(columns=["bpd"])
    table.to_csv(tmp_path / "results" / "results.csv", index=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StageError, match=r"no column\(s\) \['bpd'\]"):
        plot.main()


def test_plot_and_report_name_their_missing_inputs(tmp_path, monkeypatch):
    write_params(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StageError) as err:
        plot.main()
    assert str(err.value) == (
        "missing input(s) data/tensors/layout.json, data/tensors/test.pt, results/results.csv (run the stages before plot)"
    )
    with pytest.raises(StageError) as err:
        report.main()
    assert str(err.value) == (
        "missing input(s) plots/index.json, results/results.csv (run the stages before report)"
    )
    assert not (tmp_path / "plots").exists() and not (tmp_path / "report").exists()


def test_plot_stage_refuses_a_results_table_without_point_and_sampler(tmp_path, monkeypatch):
    write_params(tmp_path)
    write_audio_outputs(tmp_path)
    pd.read_csv(tmp_path / "results" / "results.csv").drop(columns=["point"]).to_csv(tmp_path / "results" / "results.csv", index=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StageError, match=r"results/results.csv: needs columns 'point' and 'sampler'; found \['epoch', 'sampler'"):
        plot.main()
    assert not (tmp_path / "plots").exists()


def test_image_layout_gets_mosaics_and_no_players(tmp_path, monkeypatch):
    write_params(tmp_path, data_of="digits")
    tensors = tmp_path / "data" / "tensors"
    tensors.mkdir(parents=True)
    layout = make_layout("image", 28 * 28, 0, scale=1 / 255, padded_size=32)
    images = torch.randint(0, 256, (5, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    (tensors / "layout.json").write_text(json.dumps(layout.to_dict()))
    torch.save({"x": layout.to_model(images), "pitch": torch.arange(5)}, tensors / "test.pt")
    for point in POINTS:
        for sampler in SAMPLERS:
            folder = tmp_path / "runs" / point / "samples" / "epoch_001" / sampler
            folder.mkdir(parents=True)
            torch.save({"x": layout.to_model(images[:3])}, folder / "samples.pt")
    write_results(tmp_path)
    monkeypatch.chdir(tmp_path)
    plot.main()
    report.main()
    index = json.loads((tmp_path / "plots" / "index.json").read_text())
    # 2 real images and 3 samples in a row of 28-pixel tiles with 2-pixel gaps, zoomed 3x
    assert png_size(tmp_path / "plots" / index["real_grid"]) == (3 * (2 + 2 * 30), 3 * 32)
    grids = [m["grid"] for p in index["points"] for c in p["checkpoints"] for m in c["samplers"]]
    assert len(grids) == len(POINTS) * len(SAMPLERS)
    assert all(png_size(tmp_path / "plots" / g) == (3 * (2 + 3 * 30), 3 * 32) for g in grids)
    parsed = Tags((tmp_path / "report" / "index.html").read_text())
    assert parsed.sources("audio") == []
    assert len(parsed.sources("img")) == 1 + len(grids) + len(index["charts"])


@pytest.mark.slow
def test_report_in_headless_chromium(built, tmp_path):
    screenshot = tmp_path / "screenshot.png"
    found = inspect_page(built / "report" / "index.html", screenshot)
    parsed = Tags((built / "report" / "index.html").read_text())
    assert [i["src"] for i in found["images"]] == parsed.sources("img")
    assert all(i["width"] > 0 and i["height"] > 0 for i in found["images"]), found["images"]
    assert [a["src"] for a in found["audio"]] == parsed.sources("audio") and found["audio"]
    for audio in found["audio"]:
        assert audio["error"] is None, audio
        assert audio["duration"] == pytest.approx(CLIP / SAMPLE_RATE, abs=1e-3), audio
    width, height = png_size(screenshot)
    assert width == 1280 and height > 900
    if os.environ.get("SGM_KEEP_SCREENSHOT"):
        shutil.copyfile(screenshot, os.environ["SGM_KEEP_SCREENSHOT"])


def test_safe_name_keeps_plain_names_and_separates_altered_ones():
    assert plot.safe_name("b4-32to256-1e-4") == "b4-32to256-1e-4"
    assert plot.safe_name("<b>x").startswith("_b_x-") and len(plot.safe_name("<b>x")) == len("_b_x-") + 8
    assert plot.safe_name("<b>x") != plot.safe_name("[b]x") != plot.safe_name("_b_x")


