"""One interface for a kind of data: what the pipeline's stages ask of notes, melodies or images.

A DataKind renders its data, reads the cleaned files back, chooses their tensor layout, turns
samples into files, scores samples against held-out data, and draws both. Its methods take the
validated params (stages.common.params) and the folders a stage gives it; what lies inside
those folders is the kind's own business.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import pandas as pd
import torch

from sgm.kinds.layout import Layout

BY_INSTRUMENT_COLUMNS = (  # runs/POINT/eval/by_instrument.csv: each instrument's numbers beside its held-out clips'
    "checkpoint", "sampler", "instrument", "clips", "spectral_flatness_in_band", "times_real", "frechet_distance",
    "kernel_distance", "instrument_accuracy", "instrument_accuracy_partials",
)  # fmt: skip


class DataError(ValueError):
    """The data a stage was given is unusable; the message names the file or the setting."""


@dataclass(frozen=True)
class CleanData:
    """What tensorize reads from the cleaned data: examples, their label columns and the labels' names."""

    data: torch.Tensor  # (N, *data_shape)
    labels: dict[str, torch.Tensor]  # int64 (N,) columns: pitch, program, note_id (split groups), clip (-1: unknown)
    label_names: dict[str, dict[int, str]] = field(default_factory=dict)  # {label kind: {code: name}}


@dataclass(frozen=True)
class DataSet:
    """The tensors every later stage reads: the layout, the training and test splits, the labels' names.

    `train_file` is read on first use only (its labels are small; its examples may not be).
    """

    layout: Layout
    test: dict
    train_file: Path
    label_names: dict[str, dict[int, str]]
    test_file: Path | None = None  # where `test` was read from, for messages

    @cached_property
    def train(self) -> dict:
        return torch.load(self.train_file, weights_only=True, mmap=True)


@dataclass(frozen=True)
class Figures:
    """What the plot stage drew for one checkpoint: a sheet comparing the samplers (or None) and each sampler's pictures."""

    sheet: str | None
    samplers: list[dict]


class DataKind(abc.ABC):
    """The pipeline's view of one kind of data (see the module docstring)."""

    name: ClassVar[str]

    @abc.abstractmethod
    def render(self, params, out: Path) -> None:
        """Write the data params.render asks for into `out` (data/notes): its files and a notes.csv index."""

    @abc.abstractmethod
    def read_clean(self, params, clean_dir: Path) -> CleanData:
        """The cleaned data of `clean_dir` (data/clean) as tensors; DataError naming any unusable file."""

    @abc.abstractmethod
    def layout(self, params, clean: CleanData, clean_dir: Path) -> Layout:
        """The (unscaled) layout params.tensorize names, for these data."""

    @abc.abstractmethod
    def save_samples(self, directory: Path, x: torch.Tensor, layout: Layout, requests: list[dict]) -> None:
        """Write samples (model tensors x) into `directory`: samples.pt with the requests, and files to open."""

    @abc.abstractmethod
    def reference(self, params, data: DataSet) -> dict:
        """The numbers of held-out real data (and of a noise floor) that samples are judged against."""

    @abc.abstractmethod
    def score(self, params, data: DataSet, records: dict) -> tuple[dict, pd.DataFrame]:
        """Numbers for each (checkpoint, sampler) record of samples.pt: ({key: {metric: value}}, a table by instrument)."""

    @abc.abstractmethod
    def headline(self, checkpoint: dict, sampler: str) -> dict:
        """The few numbers that compare runs at a glance, under short names: `sampler`'s numbers and
        bits/dim from one checkpoint's entry of score's output."""

    @abc.abstractmethod
    def draw_real(self, out: Path, layout: Layout, test: dict, count: int) -> tuple[list[dict], str | None]:
        """Pictures (and, for audio, WAVs) of `count` real test examples under `out`: (one entry each, a mosaic or None)."""

    @abc.abstractmethod
    def draw_checkpoint(self, out: Path, folder: str, sources: dict[str, Path], title: str, layout: Layout, columns: int) -> Figures:
        """Pictures of one checkpoint's samples, a folder of samples per sampler, under out/folder."""


def empty_by_instrument() -> pd.DataFrame:
    """The by-instrument table of a kind without instruments."""
    return pd.DataFrame(columns=BY_INSTRUMENT_COLUMNS)


def sample_requests(record: dict, source) -> dict[str, list]:
    """What was asked of each sample of a samples.pt `record`: {label kind: one value per sample}."""
    requested = record.get("requested") or {}
    n = len(record["x"])
    wrong = {kind: len(values) for kind, values in requested.items() if len(values) != n}
    if wrong:
        raise DataError(f"{source}: {n} samples but requests of other lengths {wrong}")
    return requested
