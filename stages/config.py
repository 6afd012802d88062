"""The one place that reads and validates params.yaml.

Every stage calls `load_params()` first, which checks the whole file (unknown keys, types, ranges
and cross-references such as a grid point naming a missing architecture), so a mistake is reported
with its key before any stage does work.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML, YAMLError

from sgm.generate import SCALES
from sgm.layouts import LAYOUTS, PianoRoll, make_layout
from sgm.sampling import HEUN_MIN_STEPS, SAMPLERS
from sgm.sde import SDES
from stages.columns import COLUMNS, METRIC_COLUMNS

PARAMS_FILE = Path("params.yaml")

PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0, lt=1)]


def _low_below_high(interval: list[float] | None) -> tuple[float, float] | None:
    if interval is not None and not interval[0] < interval[1]:
        raise ValueError(f"must be [low, high] noise levels with low < high, got {interval}")
    return None if interval is None else tuple(interval)


# classifier-free guidance only at noise levels in [low, high] (Kynkaanniemi et al. 2024); null: at every level
GuidanceInterval = Annotated[
    Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=2, max_length=2)] | None, AfterValidator(_low_below_high)
]


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


class MelodySource(Section):
    """Scores cut into 3x32x32 piano rolls (sgm.melody): music21's bundled corpus and/or a user's folder.

    `corpus` names a composer folder of music21's corpus (its MusicXML files, e.g. bach: the chorales);
    `folder` is read recursively for .mid/.midi/.mxl/.musicxml/.xml files and never modified.
    """

    corpus: str | None = "bach"
    folder: str | None = None
    max_pieces: PositiveInt | None = None  # the first N corpus pieces in path order (null: all)
    transpose: bool = True  # each piece into C major / A minor before windowing
    pitch_low: Annotated[int, Field(ge=0, le=96)] = 48  # rows are MIDI pitches pitch_low..pitch_low+31
    hop_steps: PositiveInt = 16  # a segment starts every hop_steps sixteenths
    tempo_qpm: PositiveFloat = 120.0  # playback tempo of the rolls (quarter notes per minute)
    program: Annotated[int, Field(ge=0, le=127)] = 0  # General MIDI program the rolls are played with

    @model_validator(mode="after")
    def _has_input(self):
        if self.corpus is None and self.folder is None:
            raise ValueError("melody needs a corpus, a folder or both")
        return self


class Render(Section):
    source: Literal["soundfont", "folder", "idx", "digits", "melody"] = "soundfont"
    soundfont: str = "default"
    programs: dict[str, Annotated[int, Field(ge=0, le=127)]]
    instruments: list[str] | None = None  # which of `programs` the soundfont source renders; null: all
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
    melody: MelodySource | None = None
    on_bad_file: Literal["error", "skip"] = "error"

    @field_validator("programs")
    @classmethod
    def _names_are_folder_names(cls, programs):
        bad = [name for name in programs if not re.fullmatch(r"[A-Za-z0-9_-]+", name)]
        if bad:
            raise ValueError(f"program names {bad} are used as folder names: use only letters, digits, '_' and '-'")
        return programs

    @property
    def selected_programs(self) -> dict[str, int]:
        """The programs to render: `instruments` of `programs`, or all of them."""
        if self.instruments is None:
            return dict(self.programs)
        return {name: self.programs[name] for name in self.instruments}

    @model_validator(mode="after")
    def _consistent(self):
        unknown = [name for name in self.instruments or [] if name not in self.programs]
        if unknown:
            raise ValueError(f"instruments {unknown} are not in render.programs ({', '.join(self.programs)})")
        if self.instruments is not None and (not self.instruments or len(set(self.instruments)) != len(self.instruments)):
            raise ValueError(f"instruments must name at least one program, each once (or be null for all), got {self.instruments}")
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
        if self.source == "melody" and self.melody is None:
            raise ValueError("source is 'melody' but render.melody is not set")
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
    layout: Literal["waveform2d", "waveform1d", "stft", "image", "pianoroll"] = "waveform2d"
    stft: Stft = Stft()
    target_std: PositiveFloat | None = None  # scale the training data to this std (EDM: 0.5); null: the layout's rule
    preemphasis: float = Field(0.0, ge=0, lt=1)  # y[n] = x[n] - a x[n-1] before the layout (sgm.layouts); 0: off
    test_fraction: Fraction = 0.1
    split_seed: int = 0

    @model_validator(mode="after")
    def _preemphasis_needs_waveforms(self):
        if self.preemphasis and not LAYOUTS[self.layout].holds_waveforms:
            raise ValueError(f"preemphasis={self.preemphasis} filters waveforms; layout {self.layout!r} holds none (use 0)")
        return self


# --- models and training --------------------------------------------------------------------------


class Arch(Section):
    net: Literal["unet2d", "unet1d"] = "unet2d"
    blocks: PositiveInt
    channels: list[PositiveInt]
    embed_dim: PositiveInt = 256
    attention_heads: NonNegativeInt = 0   # unet1d: self-attention heads at the lowest resolution (0: none)

    @model_validator(mode="after")
    def _blocks_match_channels(self):
        if len(self.channels) != self.blocks:
            raise ValueError(f"channel list {self.channels} has {len(self.channels)} entries but blocks={self.blocks}")
        if self.embed_dim % 2:
            raise ValueError(f"embed_dim={self.embed_dim} must be even (sine and cosine time features)")
        if self.attention_heads and self.net != "unet1d":
            raise ValueError(f"attention_heads={self.attention_heads} needs net unet1d, not {self.net}")
        if self.attention_heads and self.channels[-1] % self.attention_heads:
            raise ValueError(f"attention_heads={self.attention_heads} must divide the last channel count {self.channels[-1]}")
        return self

    @property
    def size_multiple(self) -> int:
        """What the U-Net's input sizes must be divisible by: each block halves (2-D) or quarters (1-D) them."""
        return (4 if self.net == "unet1d" else 2) ** (self.blocks - 1)


class GridPoint(Section):
    arch: str
    lr: PositiveFloat


def one_of(value, choices, what: str):
    """`value` if it is among `choices`, else ValueError naming what was expected."""
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; accepted: {', '.join(choices)}")
    return value


class SdeParams(Section):
    name: str = "tutorial_ve"
    sigma: PositiveFloat | None = None
    sigma_min: PositiveFloat | None = None
    sigma_max: PositiveFloat | Literal["auto"] | None = None  # auto: the largest pairwise distance of the training data
    beta_min: PositiveFloat | None = None
    beta_max: PositiveFloat | None = None

    @field_validator("name")
    @classmethod
    def _known(cls, name):
        return one_of(name, SDES, "SDE")

    @model_validator(mode="after")
    def _takes_its_own_parameters(self):
        sde = SDES[self.name]
        accepted = [name for name in inspect.signature(sde.__init__).parameters if name != "self"]
        unknown = [key for key in self.kwargs() if key not in accepted]
        if unknown:
            raise ValueError(f"{self.name!r} takes {', '.join(accepted)}; got {', '.join(unknown)}")
        if self.sigma_max == "auto":
            return self  # known once tensorize has measured the data; train checks the SDE then
        try:
            sde(**self.kwargs())
        except ValueError as err:
            raise ValueError(str(err)) from None
        return self

    def kwargs(self, max_pairwise_distance: float | None = None) -> dict:
        """The SDE's keyword arguments, with sigma_max: auto resolved to `max_pairwise_distance`."""
        kwargs = self.model_dump(exclude={"name"}, exclude_none=True)
        if kwargs.get("sigma_max") == "auto":
            kwargs["sigma_max"] = max_pairwise_distance
        return kwargs


class Precond(Section):
    """EDM preconditioning (Karras et al. 2022): ln sigma ~ N(log_sigma_mean, log_sigma_std^2) in training."""

    name: Literal["none", "edm"] = "none"
    sigma_data: PositiveFloat = 0.5
    log_sigma_mean: float = -1.2
    log_sigma_std: PositiveFloat = 1.2


class Train(Section):
    sde: SdeParams = SdeParams()
    precond: Precond = Precond()
    conditioning: list[Literal["pitch", "instrument", "digit"]] = []  # label kinds the model is conditioned on; []: unconditional
    label_dropout: Annotated[float, Field(ge=0, lt=1)] = 0.1  # each label is dropped with this probability (guidance)
    loss_weighting: Literal["study", "likelihood", "edm"] = "study"
    epochs: list[PositiveInt]
    batch_size: PositiveInt = 32
    max_examples: PositiveInt | None = None
    test_examples: PositiveInt | None = 256
    lr_schedule: Literal["constant", "linear", "cosine"] = "constant"  # the grid point's lr, decayed toward 0 (reached one step after the last)
    lr_decay_fraction: Annotated[float, Field(gt=0, le=1)] = 1.0  # the decay spans this last fraction of the steps
    crop_samples: PositiveInt | None = None  # train waveform1d nets on random windows of this many samples; null: whole clips
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

    @model_validator(mode="after")
    def _precond_and_loss_agree(self):
        if self.loss_weighting == "edm" and self.precond.name != "edm":
            raise ValueError(f"loss_weighting 'edm' needs precond.name 'edm' (it weights the EDM denoiser's residual), got {self.precond.name!r}")
        if len(set(self.conditioning)) != len(self.conditioning):
            raise ValueError(f"conditioning {self.conditioning} names a label kind twice")
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
    eps: Fraction = 1e-3


class PredictorCorrector(Section):
    steps: PositiveInt = 500
    snr: PositiveFloat = 0.16
    corrector_steps: PositiveInt = 1
    eps: Fraction = 1e-3


class ProbabilityFlowOde(Section):
    rtol: PositiveFloat = 1e-5
    atol: PositiveFloat = 1e-5
    eps: Fraction = 1e-3


class Heun(Section):
    steps: Annotated[int, Field(ge=HEUN_MIN_STEPS)] = 18
    rho: PositiveFloat = 7.0
    eps: Fraction = 1e-3


class Sample(Section):
    n_samples: PositiveInt = 8
    batch_size: PositiveInt = 8
    fast_path: Literal["auto", "on", "off"] = "auto"
    compile: Literal["auto", "on", "off"] = "off"
    guidance: Annotated[float, Field(ge=0)] = 0.0  # classifier-free guidance scale w (conditional models)
    guidance_interval: GuidanceInterval = None
    band_limit: bool = True  # audio limited to the training clips' band (layout band_hz); false: the net's raw output
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
    eps: Fraction = 1e-5


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

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, metrics):
        return _known_columns(metrics, METRIC_COLUMNS)

    @field_validator("hyperparameters")
    @classmethod
    def _known_hyperparameters(cls, hyperparameters):
        return _known_columns(hyperparameters, COLUMNS)


def _known_columns(names: list[str], columns) -> list[str]:
    unknown = [name for name in names if name not in columns]
    if unknown:
        raise ValueError(f"no results.csv column(s) {unknown}; accepted: {', '.join(columns)}")
    return names


def _heun_steps_fit(section: Section, where: str) -> Section:
    if section.sampler == "heun" and section.steps < HEUN_MIN_STEPS:
        raise ValueError(f"{where}.steps must be >= {HEUN_MIN_STEPS} with heun, got {section.steps}")
    return section


class PlayInpaint(Section):
    sampler: Literal["euler_maruyama", "predictor_corrector", "heun", "probability_flow_ode"] = "euler_maruyama"
    steps: PositiveInt = 50
    resample: PositiveInt = 4

    @model_validator(mode="after")
    def _heun_steps(self):
        return _heun_steps_fit(self, "play.inpaint")


class PlayOde(Section):
    rtol: PositiveFloat = 1e-3
    atol: PositiveFloat = 1e-3


class Play(Section):
    """Listening examples from one grid point's last checkpoint (python -m stages.play)."""

    point: str
    instrument: str | None = None  # of the scale and the melody; null: the first the model knows
    sampler: str = "heun"
    steps: PositiveInt = 18
    guidance: Annotated[float, Field(ge=0)] = 0.0
    guidance_interval: GuidanceInterval = None
    scale: str = "chromatic"
    clip: Annotated[int, Field(ge=0)] = 0  # the test clip continued, varied and interpolated from
    keep_ms: PositiveFloat = 150.0
    inpaint: PlayInpaint = PlayInpaint()
    strength: Annotated[float, Field(gt=0, le=1)] = 0.5
    between: Annotated[int, Field(ge=0)] = 4
    ode: PlayOde = PlayOde()
    melody: str = "G4 A4 B4 C5 D5:2 B4:2 C5:4"
    beat_seconds: PositiveFloat = 0.25

    @field_validator("sampler")
    @classmethod
    def _known(cls, sampler):
        if sampler not in SAMPLERS or sampler == "probability_flow_ode":
            raise ValueError(f"play.sampler must be one of euler_maruyama, predictor_corrector, heun (steps-based), got {sampler!r}")
        return sampler

    @model_validator(mode="after")
    def _heun_steps(self):
        return _heun_steps_fit(self, "play")

    @field_validator("scale")
    @classmethod
    def _known_scale(cls, scale):
        return one_of(scale, SCALES, "scale")


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
    play: Play | None = None

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
        if (self.tensorize.layout == "image") != (self.render.source in ("idx", "digits")):
            raise ValueError(
                f"tensorize.layout {self.tensorize.layout!r} does not fit render.source {self.render.source!r}: "
                "the image sources (idx, digits) take layout 'image', audio sources take a waveform or stft layout"
            )
        wrong_kinds = set(self.train.conditioning) & ({"pitch", "instrument"} if self.tensorize.layout == "image" else {"digit"})
        if wrong_kinds:
            raise ValueError(
                f"train.conditioning {self.train.conditioning} does not fit render.source {self.render.source!r}: "
                "images are conditioned on 'digit' (their class label), audio on 'pitch' and 'instrument'"
            )
        self._layout_fits_nets()
        if (self.tensorize.layout == "pianoroll") != (self.render.source == "melody"):
            raise ValueError(
                f"tensorize.layout {self.tensorize.layout!r} does not fit render.source {self.render.source!r}: "
                "the melody source takes layout 'pianoroll', and only it"
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
        if self.play is not None and self.play.point not in self.grid:
            raise ValueError(
                f"play.point {self.play.point!r} is not a grid point ({', '.join(self.grid)}): "
                f"name the one to play, e.g. -S play.point={next(iter(self.grid))}"
            )
        return self


    def _layout_fits_nets(self):
        """Audio clips make a valid tensor layout, and train.crop_samples a window, whose sizes every grid point's U-Net can halve."""
        layout = self.tensorize.layout
        crop = self.train.crop_samples
        if crop is not None and layout != "waveform1d":
            raise ValueError(f"train.crop_samples={crop} crops 1-D clips: it needs tensorize.layout 'waveform1d', not {layout!r}")
        if layout == "image":
            return
        options = self.tensorize.stft.model_dump() if layout == "stft" else {}
        try:
            if layout == "pianoroll":  # its clip length follows from the melody's time grid, not render.clip_samples
                shape = (3, PianoRoll.pitches, PianoRoll.steps)
            else:
                shape = make_layout(layout, self.render.clip_samples, self.render.sample_rate, **options).shape
        except ValueError as err:
            raise ValueError(f"tensorize.layout {layout!r} does not fit render.clip_samples={self.render.clip_samples}: {err}") from None
        if crop is not None and crop > shape[-1]:
            raise ValueError(f"train.crop_samples={crop} exceeds the {shape[-1]} samples of a clip (render.clip_samples)")
        for name, point in self.grid.items():
            arch = self.archs.get(point.arch)
            if arch is None:
                continue
            if any(size % arch.size_multiple for size in shape[1:]):
                raise ValueError(
                    f"grid point {name!r} uses {point.arch!r}, whose {arch.blocks} blocks need sizes divisible by "
                    f"{arch.size_multiple}, but layout {layout!r} gives tensors of shape {shape}"
                )
            if crop is not None and crop % arch.size_multiple:
                raise ValueError(f"train.crop_samples={crop}: grid point {name!r} uses {point.arch!r}, whose {arch.blocks} blocks need lengths divisible by {arch.size_multiple}")


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
