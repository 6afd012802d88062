"""The one place that reads and validates params.yaml.

Every stage calls `load_params()` first, which checks the whole file (unknown keys, types, ranges
and cross-references such as a grid point naming a missing architecture), so a mistake is reported
with its key before any stage does work.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML, YAMLError

from sgm.sampling import SAMPLERS
from sgm.sde import SDES

PARAMS_FILE = Path("params.yaml")

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0, lt=1)]


class ParamsError(Exception):
    """params.yaml is missing, unreadable or invalid; the message names the key."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- data ---------------------------------------------------------------------------------------


class IdxSource(Section):
    """MNIST-style IDX files (raw or gzip): uint8 images (N, H, W) and optional uint8 labels (N,)."""

    images: str
    labels: str | None = None


class FolderSource(Section):
    """A folder of the user's own audio files, read recursively and never modified.

    `labels` is an optional CSV inside that folder (path relative to it) with columns file
    (relative path), instrument and pitch (MIDI number or note name such as G3); empty cells mean unknown.
    """

    path: str
    labels: str | None = None


class Render(Section):
    source: Literal["soundfont", "folder", "idx"] = "soundfont"
    soundfont: str = "default"
    programs: dict[str, Annotated[int, Field(ge=0, le=127)]]
    pitch_low: Annotated[int, Field(ge=0, le=127)] = 55
    pitch_high: Annotated[int, Field(ge=0, le=127)] = 91
    velocity: Annotated[int, Field(ge=1, le=127)] = 100
    note_seconds: PositiveFloat = 1.2
    sample_rate: PositiveInt = 44100
    channels: Annotated[int, Field(ge=1, le=2)] = 2
    clip_samples: PositiveInt = 16384
    clips_per_note: PositiveInt = 3
    folder: FolderSource | None = None
    idx: IdxSource | None = None
    on_bad_file: Literal["error", "skip"] = "error"

    @field_validator("programs")
    @classmethod
    def _names_are_folder_names(cls, programs):
        bad = [name for name in programs if not re.fullmatch(r"[A-Za-z0-9_-]+", name)]
        if bad:
            raise ValueError(f"program names {bad} are used as folder names: use only letters, digits, '_' and '-'")
        return programs

    @model_validator(mode="after")
    def _consistent(self):
        if self.pitch_low > self.pitch_high:
            raise ValueError(f"pitch_low={self.pitch_low} is above pitch_high={self.pitch_high}")
        if self.source == "soundfont":
            if not self.programs:
                raise ValueError("programs is empty: name at least one General MIDI program")
            needed = self.clip_samples * self.clips_per_note
            rendered = round(self.note_seconds * self.sample_rate)
            if rendered < needed:
                raise ValueError(
                    f"note_seconds={self.note_seconds} gives {rendered} samples at {self.sample_rate} Hz, "
                    f"fewer than clips_per_note*clip_samples={needed}"
                )
        if self.source == "folder" and self.folder is None:
            raise ValueError("source is 'folder' but render.folder.path is not set")
        if self.source == "idx" and self.idx is None:
            raise ValueError("source is 'idx' but render.idx.images is not set")
        return self


class Preprocess(Section):
    lowpass_hz: PositiveFloat | None = 10000.0
    lowpass_order: Annotated[int, Field(ge=1, le=16)] = 8
    normalize_peak: Annotated[float, Field(gt=0, le=1)] | None = None


class Stft(Section):
    n_fft: PositiveInt = 254
    hop: PositiveInt = 128

    @model_validator(mode="after")
    def _frames_overlap(self):
        if self.hop > self.n_fft:
            raise ValueError(f"hop={self.hop} exceeds n_fft={self.n_fft}: samples between frames would be lost")
        return self


class Tensorize(Section):
    layout: Literal["waveform2d", "waveform1d", "stft", "image"] = "waveform2d"
    stft: Stft = Stft()
    test_fraction: Fraction = 0.1
    split_seed: int = 0


# --- models and training --------------------------------------------------------------------------


class Arch(Section):
    net: Literal["unet2d", "unet1d"] = "unet2d"
    blocks: PositiveInt
    channels: list[PositiveInt]
    embed_dim: PositiveInt = 256

    @model_validator(mode="after")
    def _blocks_match_channels(self):
        if len(self.channels) != self.blocks:
            raise ValueError(f"channel list {self.channels} has {len(self.channels)} entries but blocks={self.blocks}")
        return self


class GridPoint(Section):
    arch: str
    lr: PositiveFloat


class SdeParams(Section):
    name: str = "tutorial_ve"
    sigma: PositiveFloat | None = None
    sigma_min: PositiveFloat | None = None
    sigma_max: PositiveFloat | None = None
    beta_min: PositiveFloat | None = None
    beta_max: PositiveFloat | None = None

    @field_validator("name")
    @classmethod
    def _known(cls, name):
        if name not in SDES:
            raise ValueError(f"unknown SDE {name!r}; accepted: {', '.join(SDES)}")
        return name

    def kwargs(self) -> dict:
        return self.model_dump(exclude={"name"}, exclude_none=True)


class Train(Section):
    sde: SdeParams = SdeParams()
    loss_weighting: Literal["study", "likelihood"] = "study"
    epochs: list[PositiveInt]
    batch_size: PositiveInt = 32
    max_examples: PositiveInt | None = None
    test_examples: PositiveInt | None = 256
    ema_decay: Annotated[float, Field(ge=0, lt=1)] = 0.999
    grad_clip: PositiveFloat | None = 1.0
    compile: Literal["auto", "on", "off"] = "auto"
    fast_path: Literal["auto", "on", "off"] = "auto"
    save_every_minutes: PositiveFloat | None = 5.0
    save_every_steps: PositiveInt | None = None
    log_every: PositiveInt = 50

    @model_validator(mode="after")
    def _batch_fits(self):
        if self.max_examples is not None and self.batch_size > self.max_examples:
            raise ValueError(f"batch_size={self.batch_size} exceeds max_examples={self.max_examples}: no full batch to train on")
        return self

    @field_validator("epochs")
    @classmethod
    def _increasing(cls, epochs):
        if not epochs or sorted(set(epochs)) != epochs:
            raise ValueError(f"epochs must be a non-empty strictly increasing list, got {epochs}")
        return epochs


# --- sampling and evaluation ------------------------------------------------------------------------


class EulerMaruyama(Section):
    steps: PositiveInt = 500
    eps: PositiveFloat = 1e-3


class PredictorCorrector(Section):
    steps: PositiveInt = 500
    snr: PositiveFloat = 0.16
    corrector_steps: PositiveInt = 1
    eps: PositiveFloat = 1e-3


class ProbabilityFlowOde(Section):
    rtol: PositiveFloat = 1e-5
    atol: PositiveFloat = 1e-5
    eps: PositiveFloat = 1e-3


class Heun(Section):
    steps: PositiveInt = 18
    rho: PositiveFloat = 7.0
    eps: PositiveFloat = 1e-3


class Sample(Section):
    n_samples: PositiveInt = 8
    batch_size: PositiveInt = 8
    fast_path: Literal["auto", "on", "off"] = "auto"
    samplers: list[str]
    euler_maruyama: EulerMaruyama = EulerMaruyama()
    predictor_corrector: PredictorCorrector = PredictorCorrector()
    probability_flow_ode: ProbabilityFlowOde = ProbabilityFlowOde()
    heun: Heun = Heun()

    @field_validator("samplers")
    @classmethod
    def _known(cls, samplers):
        unknown = [s for s in samplers if s not in SAMPLERS]
        if unknown or not samplers:
            raise ValueError(f"unknown sampler(s) {unknown or samplers}; accepted: {', '.join(SAMPLERS)}")
        return samplers

    def settings(self, sampler: str) -> dict:
        """Keyword arguments for one sampler."""
        return getattr(self, sampler).model_dump()


class Likelihood(Section):
    examples: PositiveInt = 16
    rtol: PositiveFloat = 1e-5
    atol: PositiveFloat = 1e-5
    eps: PositiveFloat = 1e-5


class Evaluate(Section):
    likelihood: Likelihood = Likelihood()
    crepe_model: Literal["tiny", "full"] = "tiny"
    periodicity_threshold: Fraction = 0.5
    heldout_clips: PositiveInt | None = 64


class Plot(Section):
    real_clips: PositiveInt = 4
    sheet_columns: PositiveInt = 4
    metrics: list[str] = ["frechet_distance", "bpd", "pitch_accuracy"]
    hyperparameters: list[str] = ["lr", "blocks", "channels", "epoch"]


# --- the whole file --------------------------------------------------------------------------------


class Params(Section):
    seed: Annotated[int, Field(ge=0)] = 0
    render: Render
    preprocess: Preprocess = Preprocess()
    tensorize: Tensorize = Tensorize()
    archs: dict[str, Arch]
    grid: dict[str, GridPoint]
    train: Train
    sample: Sample
    evaluate: Evaluate = Evaluate()
    plot: Plot = Plot()

    @model_validator(mode="after")
    def _grid_is_consistent(self):
        if not self.grid:
            raise ValueError("grid is empty: add at least one point {arch: NAME, lr: RATE}")
        nyquist = self.render.sample_rate / 2
        if self.preprocess.lowpass_hz is not None and self.preprocess.lowpass_hz >= nyquist:
            raise ValueError(
                f"preprocess.lowpass_hz={self.preprocess.lowpass_hz} is not below the Nyquist frequency "
                f"{nyquist} Hz of render.sample_rate={self.render.sample_rate}: lower it or set it to null"
            )
        if (self.tensorize.layout == "image") != (self.render.source == "idx"):
            raise ValueError(
                f"tensorize.layout {self.tensorize.layout!r} does not fit render.source {self.render.source!r}: "
                "the idx source (images) takes layout 'image', audio sources take a waveform or stft layout"
            )
        net_for_layout = {"waveform1d": "unet1d"}
        wanted = net_for_layout.get(self.tensorize.layout, "unet2d")
        for name, point in self.grid.items():
            if "." in name:
                raise ValueError(f"grid point name {name!r} contains '.', which DVC reads as a key separator; write 1e-4, not 0.0001")
            if point.arch not in self.archs:
                raise ValueError(f"grid point {name!r} names architecture {point.arch!r}, which is not in archs ({', '.join(self.archs)})")
            if self.archs[point.arch].net != wanted:
                raise ValueError(
                    f"grid point {name!r} uses {point.arch!r}, a {self.archs[point.arch].net}, but layout "
                    f"{self.tensorize.layout!r} needs a {wanted}"
                )
        return self


def _format(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(part) for part in e["loc"]) or "(top level)"
        if e["type"] == "missing":
            lines.append(f"  {key}: missing")
        elif e["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
        elif e["type"] == "value_error":  # our own checks, whose messages already quote the values
            lines.append(f"  {key}: {e['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"  {key}: {e['msg']} (given: {e['input']!r})")
    return "\n".join(lines)


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read and validate params.yaml; raise ParamsError naming every bad key.

    Read as YAML 1.2, as DVC reads it, so that `dvc exp run -S lr=1e-5` stays a number.
    """
    try:
        raw = YAML(typ="safe", pure=True).load(Path(path).read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found (run from the repository root)") from None
    except YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(f"{path} is invalid:\n{_format(err)}") from None
