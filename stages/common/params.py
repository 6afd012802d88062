"""The one place that reads and validates params.yaml.

Every stage calls `load_params()` first, which checks the whole file (unknown keys, missing keys,
types, ranges and cross-references such as a grid point naming a missing architecture), so a
mistake is reported with its key before any stage does work. params.yaml ships every default:
the schema has none of its own, so a key removed with `dvc exp run -S '~key'` stops the run
naming the key. Only what is switched off by leaving it out may be absent (the settings of a
source other than the chosen one, such as a user's folder of audio; an architecture's
self-attention; the parameters of another SDE than the chosen one).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML, YAMLError

from sgm.audio.general_midi import STUDY_INSTRUMENTS
from sgm.core.samplers import SAMPLERS
from sgm.core.schedules import HEUN_MIN_STEPS
from sgm.core.sde import SDES
from sgm.generation.requests import SCALES
from sgm.kinds import KINDS, layout_class, layouts_of
from stages.common.columns import COLUMNS, METRIC_COLUMNS

PARAMS_FILE = Path("params.yaml")

PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0, lt=1)]
FastPathMode = Literal["auto", "on", "off"]
LAYOUT_NAMES = tuple(layout for kind in KINDS for layout in layouts_of(kind))
SOURCES = tuple(source for entry in KINDS.values() for source in entry.sources)
LABEL_KINDS = tuple(dict.fromkeys(label for entry in KINDS.values() for label in entry.labels))


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


def literal(choices: tuple[str, ...]):
    """The str type that accepts only `choices`, worded as pydantic words a Literal."""

    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"Input should be {', '.join(repr(choice) for choice in choices[:-1])} or {choices[-1]!r}")
        return value

    return Annotated[str, AfterValidator(check)]


def one_of(value, choices, what: str):
    """`value` if it is among `choices`, else ValueError naming what was expected."""
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; accepted: {', '.join(choices)}")
    return value


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
    """Scores cut into 3x32x32 piano rolls (sgm.melodies): music21's bundled corpus and/or a user's folder.

    `corpus` names a composer folder of music21's corpus (its MusicXML files, e.g. bach: the chorales);
    `folder` is read recursively for .mid/.midi/.mxl/.musicxml/.xml files and never modified.
    """

    corpus: str | None
    folder: str | None
    max_pieces: PositiveInt | None  # the first N corpus pieces in path order (null: all)
    transpose: bool  # each piece into C major / A minor before windowing
    pitch_low: Annotated[int, Field(ge=0, le=96)]  # rows are MIDI pitches pitch_low..pitch_low+31
    hop_steps: PositiveInt  # a segment starts every hop_steps sixteenths
    tempo_qpm: PositiveFloat  # playback tempo of the rolls (quarter notes per minute)
    program: Annotated[int, Field(ge=0, le=127)]  # General MIDI program the rolls are played with

    @model_validator(mode="after")
    def _has_input(self):
        if self.corpus is None and self.folder is None:
            raise ValueError("melody needs a corpus, a folder or both")
        return self


class Render(Section):
    source: literal(SOURCES)  # of a kind of data in sgm.kinds.KINDS
    soundfont: str
    instruments: list[str] | None  # which of the study's 59 General MIDI instruments the soundfont source renders; null: all
    pitch_low: Annotated[int, Field(ge=0, le=127)]
    pitch_high: Annotated[int, Field(ge=0, le=127)]
    velocity: Annotated[int, Field(ge=1, le=127)]
    note_seconds: PositiveFloat
    sample_rate: PositiveInt
    channels: Annotated[int, Field(ge=1, le=2)]
    clip_samples: PositiveInt
    clips_per_note: PositiveInt
    on_bad_file: Literal["error", "skip"]
    folder: FolderSource | None = None  # the folder source's settings, given with it
    idx: IdxSource | None = None
    melody: MelodySource | None = None

    @model_validator(mode="after")
    def _consistent(self):
        unknown = [name for name in self.instruments or [] if name not in STUDY_INSTRUMENTS]
        if unknown:
            raise ValueError(f"instruments {unknown} are not among the study's 59 General MIDI instruments ({', '.join(STUDY_INSTRUMENTS)})")
        if self.instruments is not None and (not self.instruments or len(set(self.instruments)) != len(self.instruments)):
            raise ValueError(f"instruments must name at least one instrument, each once (or be null for all), got {self.instruments}")
        if self.pitch_low > self.pitch_high:
            raise ValueError(f"pitch_low={self.pitch_low} is above pitch_high={self.pitch_high}")
        if self.source == "soundfont":
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
            raise ValueError("source is 'melody' but render.melody is not set (the melody preset sets it)")
        if self.source == "idx" and self.idx is None:
            raise ValueError("source is 'idx' but render.idx.images is not set")
        return self


class Preprocess(Section):
    lowpass_hz: PositiveFloat | None
    lowpass_order: Annotated[int, Field(ge=1, le=16)]
    normalize_peak: Annotated[float, Field(gt=0, le=1)] | None


class Stft(Section):
    n_fft: PositiveInt
    hop: PositiveInt

    @model_validator(mode="after")
    def _frames_overlap(self):
        if self.hop > self.n_fft:
            raise ValueError(f"hop={self.hop} exceeds n_fft={self.n_fft}: samples between frames would be lost")
        return self


class Tensorize(Section):
    """`tensorize.<layout name>` holds the options of that layout (stft: n_fft, hop)."""

    layout: literal(LAYOUT_NAMES)
    stft: Stft
    target_std: PositiveFloat | None  # scale the training data to this std (EDM: 0.5); null: the layout's rule
    preemphasis: float = Field(ge=0, lt=1)  # y[n] = x[n] - a x[n-1] before the layout (sgm.kinds.layout); 0: off
    test_fraction: Fraction
    split_seed: int

    @model_validator(mode="after")
    def _preemphasis_needs_waveforms(self):
        if self.preemphasis and not layout_class(self.layout).holds_waveforms:
            raise ValueError(f"preemphasis={self.preemphasis} filters waveforms; layout {self.layout!r} holds none (use 0)")
        return self

    def options(self) -> dict:
        """The chosen layout's own options."""
        section = getattr(self, self.layout, None)
        return section.model_dump() if isinstance(section, Section) else {}


# --- models and training --------------------------------------------------------------------------


class Arch(Section):
    net: Literal["unet2d", "unet1d"]
    blocks: PositiveInt
    channels: list[PositiveInt]
    embed_dim: PositiveInt
    attention_heads: NonNegativeInt = 0  # unet1d: self-attention heads at the lowest resolution (absent or 0: none)

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


class SdeParams(Section):
    """An SDE of sgm.core.sde by name, with the parameters that SDE takes (and only those)."""

    name: str
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
        given = self.kwargs()
        unknown = [key for key in given if key not in accepted]
        if unknown:
            raise ValueError(f"{self.name!r} takes {', '.join(accepted)}; got {', '.join(unknown)}")
        missing = [key for key in accepted if key not in given]
        if missing:
            raise ValueError(f"{self.name!r} takes {', '.join(accepted)}; missing {', '.join(missing)}")
        if self.sigma_max == "auto":
            return self  # known once tensorize has measured the data; train checks the SDE then
        try:
            sde(**given)
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

    name: Literal["none", "edm"]
    sigma_data: PositiveFloat
    log_sigma_mean: float
    log_sigma_std: PositiveFloat


class SpectralLoss(Section):
    """A multi-resolution STFT term on the denoised estimate at low noise levels (sgm.core.spectral_loss)."""

    weight: Annotated[float, Field(ge=0)]  # 0: off, the plain score-matching loss
    sigma_max: PositiveFloat  # only examples noised at most this much (EDM sigma)
    fft_sizes: list[Annotated[int, Field(ge=16)]]

    @field_validator("fft_sizes")
    @classmethod
    def _some_sizes(cls, sizes):
        if not sizes:
            raise ValueError("fft_sizes needs at least one FFT size")
        return sizes


RUN_SETTINGS = ("nproc_per_node", "nnodes", "save_every_minutes", "save_every_steps")  # train keys that say how a run is
# executed, not what it computes: neither in the train stage's cache key (dvc.yaml) nor in its resume fingerprint


class Train(Section):
    sde: SdeParams
    precond: Precond
    loss_weighting: Literal["study", "likelihood", "edm"]
    conditioning: list[literal(LABEL_KINDS)]  # label kinds the model is conditioned on; []: unconditional
    label_dropout: Annotated[float, Field(ge=0, lt=1)]  # each label is dropped with this probability (guidance)
    epochs: list[PositiveInt]
    batch_size: PositiveInt
    max_examples: PositiveInt | None
    test_examples: PositiveInt | None
    lr_schedule: Literal["constant", "linear", "cosine"]  # the grid point's lr, decayed toward 0 (reached one step after the last)
    lr_decay_fraction: Annotated[float, Field(gt=0, le=1)]  # the decay spans this last fraction of the steps
    crop_samples: PositiveInt | None  # train waveform1d nets on random windows of this many samples; null: whole clips
    spectral_loss: SpectralLoss
    ema_decay: Annotated[float, Field(ge=0, lt=1)]
    grad_clip: PositiveFloat | None
    compile: FastPathMode
    fast_path: FastPathMode
    save_every_minutes: PositiveFloat | None
    save_every_steps: PositiveInt | None
    log_every: PositiveInt
    nproc_per_node: PositiveInt  # data-parallel processes per machine (one per GPU), launched by torchrun
    nnodes: PositiveInt  # machines; more than one meet at the rendezvous of PET_RDZV_ENDPOINT

    @model_validator(mode="after")
    def _batch_fits(self):
        if self.max_examples is not None and self.batch_size > self.max_examples:
            raise ValueError(f"batch_size={self.batch_size} exceeds max_examples={self.max_examples}: no full batch to train on")
        processes = self.nproc_per_node * self.nnodes
        if self.batch_size % processes:
            raise ValueError(f"batch_size={self.batch_size} must split evenly over nproc_per_node x nnodes = {processes} processes")
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
    steps: PositiveInt
    eps: Fraction


class PredictorCorrector(Section):
    steps: PositiveInt
    snr: PositiveFloat
    corrector_steps: PositiveInt
    eps: Fraction


class ProbabilityFlowOde(Section):
    rtol: PositiveFloat
    atol: PositiveFloat
    eps: Fraction


class Heun(Section):
    steps: Annotated[int, Field(ge=HEUN_MIN_STEPS)]
    rho: PositiveFloat
    eps: Fraction


class LabelGuidance(Section):
    scale: Annotated[float, Field(ge=0)]  # w_k of score(x | labels) - score(x | labels but this kind)
    interval: GuidanceInterval


class Sample(Section):
    n_samples: PositiveInt
    batch_size: PositiveInt
    fast_path: FastPathMode
    compile: FastPathMode
    guidance: Annotated[float, Field(ge=0)]  # classifier-free guidance scale w (conditional models)
    guidance_interval: GuidanceInterval
    label_guidance: dict[literal(LABEL_KINDS), LabelGuidance]  # guidance towards one label kind alone, the others held
    band_limit: bool  # audio limited to the training clips' band (layout band_hz); false: the net's raw output
    samplers: list[str]  # the first is the one `dvc exp show` headlines
    euler_maruyama: EulerMaruyama
    predictor_corrector: PredictorCorrector
    probability_flow_ode: ProbabilityFlowOde
    heun: Heun

    @field_validator("samplers")
    @classmethod
    def _known(cls, samplers):
        unknown = [s for s in samplers if s not in SAMPLERS]
        if unknown or not samplers:
            raise ValueError(f"unknown sampler(s) {unknown or samplers}; accepted: {', '.join(SAMPLERS)}")
        if len(set(samplers)) != len(samplers):
            raise ValueError(f"names a sampler twice: {samplers}")
        return samplers

    def settings(self, sampler: str) -> dict:
        """Keyword arguments for one sampler (sgm.core.samplers.sample)."""
        return getattr(self, sampler).model_dump()


class Likelihood(Section):
    examples: PositiveInt
    rtol: PositiveFloat
    atol: PositiveFloat
    eps: Fraction


class Evaluate(Section):
    likelihood: Likelihood
    crepe_model: Literal["tiny", "full"]
    periodicity_threshold: Fraction
    heldout_clips: PositiveInt | None


class Plot(Section):
    real_clips: PositiveInt
    sheet_columns: PositiveInt
    metrics: list[str]
    hyperparameters: list[str]

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
    sampler: Literal["euler_maruyama", "predictor_corrector", "heun", "probability_flow_ode"]
    steps: PositiveInt
    resample: PositiveInt

    @model_validator(mode="after")
    def _heun_steps(self):
        return _heun_steps_fit(self, "play.inpaint")


class PlayOde(Section):
    rtol: PositiveFloat
    atol: PositiveFloat


class Play(Section):
    """Listening examples from one grid point's last checkpoint (python -m stages.play)."""

    point: str
    instrument: str | None  # of the scale and the melody; null: the first the model knows
    sampler: str
    steps: PositiveInt
    guidance: Annotated[float, Field(ge=0)]
    guidance_interval: GuidanceInterval
    scale: str
    clip: Annotated[int, Field(ge=0)]  # the test clip continued, varied and interpolated from
    keep_ms: PositiveFloat
    inpaint: PlayInpaint
    strength: Annotated[float, Field(gt=0, le=1)]
    between: Annotated[int, Field(ge=0)]
    ode: PlayOde
    melody: str
    beat_seconds: PositiveFloat

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
    grid: dict[str, GridPoint]
    archs: dict[str, Arch]
    seed: Annotated[int, Field(ge=0)]
    kind: str  # the kind of data (sgm.kinds): notes, images or melodies
    render: Render
    preprocess: Preprocess
    tensorize: Tensorize
    train: Train
    sample: Sample
    evaluate: Evaluate
    plot: Plot
    play: Play

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind):
        return one_of(kind, KINDS, "kind of data")

    @model_validator(mode="after")
    def _consistent(self):
        if not self.grid:
            raise ValueError("grid is empty: add at least one point {arch: NAME, lr: RATE}")
        nyquist = self.render.sample_rate / 2
        if self.preprocess.lowpass_hz is not None and self.preprocess.lowpass_hz >= nyquist:
            raise ValueError(
                f"preprocess.lowpass_hz={self.preprocess.lowpass_hz} is not below the Nyquist frequency "
                f"{nyquist} Hz of render.sample_rate={self.render.sample_rate}: lower it or set it to null"
            )
        for name in self.archs:
            if "." in name:
                raise ValueError(f"architecture name {name!r} contains '.', which DVC reads as a key separator")
        for name, point in self.grid.items():
            if "." in name:
                raise ValueError(f"grid point name {name!r} contains '.', which DVC reads as a key separator; write 1e-4, not 0.0001")
            if point.arch not in self.archs:
                raise ValueError(f"grid point {name!r} names architecture {point.arch!r}, which is not in archs ({', '.join(self.archs)})")
        self._fits_the_kind()
        self._layout_fits_nets()
        unguided = [kind for kind in self.sample.label_guidance if kind not in self.train.conditioning]
        if unguided:
            raise ValueError(f"sample.label_guidance names {unguided}, which train.conditioning {self.train.conditioning} does not hold")
        if self.play.point not in self.grid:
            raise ValueError(
                f"play.point {self.play.point!r} is not a grid point ({', '.join(self.grid)}): "
                f"name the one to play, e.g. -S play.point={next(iter(self.grid))}"
            )
        return self

    def _fits_the_kind(self):
        """The source, layout and label kinds are the kind's own (sgm.kinds.KINDS)."""
        entry, source, layout = KINDS[self.kind], self.render.source, self.tensorize.layout
        if source not in entry.sources:
            owner = next(name for name, other in KINDS.items() if source in other.sources)
            raise ValueError(f"render.source {source!r} makes {owner}, not {self.kind} (kind {self.kind!r} takes render.source {', '.join(entry.sources)}): set kind: {owner}")
        layouts = layouts_of(self.kind)
        if layout not in layouts:
            raise ValueError(f"tensorize.layout {layout!r} does not fit render.source {source!r}: {self.kind} take layout {', '.join(layouts)}")
        wrong = [kind for kind in self.train.conditioning if kind not in entry.labels]
        if wrong:
            carried = ", ".join(entry.labels) or "no labels"
            raise ValueError(f"train.conditioning {self.train.conditioning} does not fit render.source {source!r}: {self.kind} carry {carried}")

    def _layout_fits_nets(self):
        """The layout's tensors, and train.crop_samples a window, have sizes every grid point's U-Net can halve."""
        layout, crop = layout_class(self.tensorize.layout, self.kind), self.train.crop_samples
        if crop is not None and layout.net != "unet1d":
            raise ValueError(f"train.crop_samples={crop} crops 1-D clips: it needs tensorize.layout 'waveform1d', not {self.tensorize.layout!r}")
        try:
            shape = layout.planned_shape(self.render.clip_samples, self.render.sample_rate, self.tensorize.options())
        except ValueError as err:
            raise ValueError(f"tensorize.layout {self.tensorize.layout!r} does not fit render.clip_samples={self.render.clip_samples}: {err}") from None
        if crop is not None and crop > shape[-1]:
            raise ValueError(f"train.crop_samples={crop} exceeds the {shape[-1]} samples of a clip (render.clip_samples)")
        spectral = self.train.spectral_loss
        if spectral.weight:
            trained = crop or shape[-1]
            if layout.net != "unet1d":
                raise ValueError(f"train.spectral_loss reads 1-D waveforms: it needs tensorize.layout 'waveform1d', not {self.tensorize.layout!r} (or weight 0)")
            if max(spectral.fft_sizes) > trained:
                raise ValueError(f"train.spectral_loss.fft_sizes {spectral.fft_sizes} exceed the {trained} samples trained on (train.crop_samples or the clip)")
        for name, point in self.grid.items():
            arch = self.archs[point.arch]
            if arch.net != layout.net:
                raise ValueError(f"grid point {name!r} uses {point.arch!r}, a {arch.net}, but layout {self.tensorize.layout!r} needs a {layout.net}")
            if any(size % arch.size_multiple for size in shape[1:]):
                raise ValueError(
                    f"grid point {name!r} uses {point.arch!r}, whose {arch.blocks} blocks need sizes divisible by "
                    f"{arch.size_multiple}, but layout {self.tensorize.layout!r} gives tensors of shape {shape}"
                )
            if crop is not None and crop % arch.size_multiple:
                raise ValueError(f"train.crop_samples={crop}: grid point {name!r} uses {point.arch!r}, whose {arch.blocks} blocks need lengths divisible by {arch.size_multiple}")


def format_errors(err: ValidationError) -> str:
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
        raise ParamsError(f"{path} is invalid:\n{format_errors(err)}") from None
