"""Where the pipeline keeps its files: each name built in one place, and the data set read back from it."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from sgm.kinds import read_layout_file
from sgm.kinds.kind import DataSet
from sgm.kinds.layout import Layout
from stages.common.outputs import StageError

NOTES_DIR = Path("data/notes")
CLEAN_DIR = Path("data/clean")
TENSORS_DIR = Path("data/tensors")
RUNS_DIR = Path("runs")
RESULTS_DIR = Path("results")
PLOTS_DIR = Path("plots")
REPORT_DIR = Path("report")
PLAY_DIR = Path("play")

LAYOUT_FILE = TENSORS_DIR / "layout.json"
LABEL_NAMES_FILE = TENSORS_DIR / "label_names.json"
TENSORS_METRICS_FILE = TENSORS_DIR / "metrics.json"
REFERENCE_FILE = RESULTS_DIR / "reference" / "metrics.json"
RESULTS_FILE = RESULTS_DIR / "results.csv"
BEST_FILE = RESULTS_DIR / "summary.json"
PLAY_METRICS_FILE = RESULTS_DIR / "play.json"
PLOTS_INDEX_FILE = PLOTS_DIR / "index.json"


def split_file(split: str) -> Path:
    """data/tensors/{train,test}.pt."""
    return TENSORS_DIR / f"{split}.pt"


def checkpoint_name(epoch: int) -> str:
    return f"epoch_{epoch:03d}"


def train_dir(point: str) -> Path:
    return RUNS_DIR / point / "train"


def checkpoint_file(train_root: Path, epoch: int) -> Path:
    """The checkpoint of `epoch` under a train stage's output directory (see train_dir)."""
    return train_root / "checkpoints" / f"{checkpoint_name(epoch)}.pt"


def samples_dir(point: str) -> Path:
    return RUNS_DIR / point / "samples"


def sampler_samples_file(point: str, epoch: int, sampler: str) -> Path:
    """The samples.pt one sampler drew from one checkpoint."""
    return samples_dir(point) / checkpoint_name(epoch) / sampler / "samples.pt"


def train_metrics_file(point: str) -> Path:
    return train_dir(point) / "metrics.json"


def sampling_metrics_file(point: str) -> Path:
    """Beside, not inside, the samples directory: DVC forbids a file of one output inside another."""
    return RUNS_DIR / point / "sampling.json"


def eval_metrics_file(point: str) -> Path:
    return RUNS_DIR / point / "eval" / "metrics.json"


def by_instrument_file(point: str) -> Path:
    """In-band flatness per instrument of a grid point's samples and of the held-out clips."""
    return RUNS_DIR / point / "eval" / "by_instrument.csv"


def summary_file(point: str) -> Path:
    """A grid point's headline numbers under short names: the metrics `dvc exp show` compares."""
    return RUNS_DIR / point / "summary.json"


def read_layout(kind: str) -> Layout:
    """The layout tensorize stored in data/tensors/layout.json, checked to hold `kind` of data."""
    try:
        layout = read_layout_file(LAYOUT_FILE)
    except FileNotFoundError:
        raise StageError(f"{LAYOUT_FILE} is missing (run the tensorize stage first)") from None
    except ValueError as err:
        raise StageError(str(err)) from None
    if layout.kind != kind:
        raise StageError(
            f"{LAYOUT_FILE} holds {layout.kind} (layout '{layout.name}') but params kind is '{kind}' (rerun the tensorize stage)"
        )
    return layout


def read_split(split: str) -> dict:
    """One split of the tensors: {"x", "pitch", "program", "note_id", "clip"}."""
    path = split_file(split)
    if not path.is_file():
        raise StageError(f"{path} is missing (run the tensorize stage first)")
    return torch.load(path, weights_only=True)


def read_dataset(kind: str) -> DataSet:
    """The tensors tensorize wrote for `kind` of data: layout, test split, training split (read on
    use) and label names."""
    missing = [str(path) for path in (LAYOUT_FILE, LABEL_NAMES_FILE, split_file("train"), split_file("test")) if not path.is_file()]
    if missing:
        raise StageError(f"missing input(s) {', '.join(missing)} (run the tensorize stage first)")
    return DataSet(read_layout(kind), read_split("test"), split_file("train"), read_label_names(), split_file("test"))


def read_label_names() -> dict[str, dict[int, str]]:
    """{label kind: {code: name}} of the data set (tensorize writes them from the cleaned data's index)."""
    if not LABEL_NAMES_FILE.is_file():
        raise StageError(f"{LABEL_NAMES_FILE} is missing (run the tensorize stage first)")
    return {kind: {int(code): name for code, name in codes.items()} for kind, codes in json.loads(LABEL_NAMES_FILE.read_text()).items()}
