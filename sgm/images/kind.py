"""Images as a kind of data: the sanity rung (MNIST-style IDX files or scikit-learn's digits), judged by a digit classifier."""

from __future__ import annotations

from pathlib import Path

import torch

from sgm.images.figures import image_mosaic, save_mosaic
from sgm.images.judges import DigitJudge
from sgm.images.sources import IMAGES_FILE, render_from_digits, render_from_idx
from sgm.kinds import make_layout
from sgm.kinds.kind import CleanData, DataError, DataKind, DataSet, Figures, empty_by_instrument
from sgm.kinds.splits import spread_by

MOSAIC_COLUMNS = 8


class Images(DataKind):
    name = "images"

    def render(self, params, out: Path) -> None:
        if params.render.source == "idx":
            render_from_idx(params.render, out)
        else:
            render_from_digits(out)

    def read_clean(self, params, clean_dir: Path) -> CleanData:
        """Images uint8 (N, H, W); the class label goes in "program", each image is its own note."""
        path = clean_dir / IMAGES_FILE
        if not path.is_file():
            raise DataError(f"{path} not found: run the render and preprocess stages first")
        data = torch.load(path, weights_only=True)
        images, labels = data["images"], data["labels"].to(torch.int64)
        n = len(images)
        if images.dtype != torch.uint8 or images.ndim != 3 or labels.shape != (n,):
            raise DataError(f"{path}: expected uint8 images (N, H, W) and N labels, got {images.dtype} {tuple(images.shape)} and labels {tuple(labels.shape)}")
        unknown = torch.full((n,), -1)
        return CleanData(images, {"pitch": unknown, "program": labels, "note_id": torch.arange(n), "clip": torch.zeros(n, dtype=torch.int64)})

    def layout(self, params, clean: CleanData, clean_dir: Path):
        try:
            return make_layout(params.tensorize.layout, clean.data[0].numel(), 0, kind=self.name, preemphasis=params.tensorize.preemphasis)
        except ValueError as err:
            raise DataError(f"tensorize.layout {params.tensorize.layout!r} does not fit the data {tuple(clean.data.shape[1:])}: {err}") from None

    def save_samples(self, directory: Path, x: torch.Tensor, layout, requests: list[dict]) -> None:
        directory.mkdir(parents=True)
        requested = {kind: [request[kind] for request in requests] for kind in (requests[0] if requests else {})}
        torch.save({"x": x, "requested": requested}, directory / "samples.pt")

    def reference(self, params, data: DataSet) -> dict:
        return {"real": DigitJudge(data).heldout_accuracy(), "shaped_noise": {}}

    def score(self, params, data: DataSet, samples: dict):
        judge = DigitJudge(data)
        numbers = {key: judge.requested_accuracy(torch.load(path, weights_only=True), path) for key, path in samples.items()}
        return {key: value for key, value in numbers.items() if value}, empty_by_instrument()

    def headline(self, checkpoint: dict, sampler: str) -> dict:
        numbers = checkpoint.get(sampler, {})
        short = {"digits": numbers["digit_accuracy"]} if "digit_accuracy" in numbers else {}
        return {**short, **({"bpd": checkpoint["bpd"]} if "bpd" in checkpoint else {})}

    def draw_real(self, out: Path, layout, test: dict, count: int):
        indices = spread_by(test["pitch"], count)
        grid = "real/grid.png"
        save_mosaic(image_mosaic(layout.to_images(test["x"][indices]).numpy(), MOSAIC_COLUMNS), out / grid)
        return [{"test_index": i, "pitch": int(test["pitch"][i]), "png": None} for i in indices], grid

    def draw_checkpoint(self, out: Path, folder: str, sources, title: str, layout, columns: int) -> Figures:
        samplers = []
        for sampler, source, name in sources:
            grid = f"{name}.png"
            x = torch.load(source / "samples.pt", weights_only=True)["x"]
            save_mosaic(image_mosaic(layout.to_images(x).numpy(), MOSAIC_COLUMNS), out / grid)
            samplers.append({"sampler": sampler, "grid": grid, "samples": []})
        return Figures(None, samplers)


KIND = Images()
