"""How clips become model tensors and back: invertible layouts with a stored scale.

A layout maps a batch of clips (N, L) to model inputs (N, *layout.shape) as
`x = scale * arrange(audio)` and back with the exact inverse, so anything the model produces can be
listened to. `scale` is chosen once from the training split (`fit_scale`) and saved with the
tensors (`to_dict`), so every later stage maps samples back to audio the same way.

Layouts:
- `waveform2d`: the clip reshaped row by row into a 1 x side x side image (the study's choice).
- `waveform1d`: the clip as one 1 x L channel.
- `stft`: real and imaginary STFT parts, 2 x (n_fft//2 + 1) x frames; 2x128x128 for 16384 samples
  with n_fft 254, hop 128.
- `image`: square uint8 images, enlarged by a whole factor (nearest neighbour) and zero-padded to
  padded_size (FashionMNIST and digits sanity checks); no audio.
- `pianoroll`: uint8 melody rolls 3 x 32 x 32 (sgm.melody) in [-1, 1]; audio through a SoundFont.

Waveform and STFT layouts can pre-emphasise the clip first (`preemphasis` a: y[n] = x[n] - a x[n-1],
x[-1] = 0), the first-order high-pass of speech codecs, inverted exactly by the recursive filter
x[n] = y[n] + a x[n-1]. Real notes carry 20-45 dB less energy above 5 kHz than below, so a model's
squared error barely notices noise there; pre-emphasis lifts those bands before training, and
de-emphasis lowers whatever error the model leaves there by the same factor. The map is lower
triangular with a unit diagonal (determinant 1), so densities and bits/dim are unchanged by it.

They can also know the band their clips occupy (`band_hz`, set by tensorize from the preprocess
low-pass): `to_audio` then zeroes every Fourier coefficient above it, the projection onto the
clips' band. Real clips lose nothing measurable there (the low-pass left them at least 60 dB down);
a model's samples lose the hiss it leaves where the data are silent, which otherwise dominates
their spectral flatness.

Scale rules (`fit_scale`): waveforms get 1/peak|train| so the training clips fill [-1, 1]; stft
gets 0.5/std(train coefficients), since a peak rule would let a few loud low bins squash the rest;
images get 1/255, so pixels lie in [0, 1] like the score-SDE tutorial's MNIST. With `target_std`
any layout is scaled instead so that the training tensors have that standard deviation (EDM
assumes data of std 0.5).
"""

from __future__ import annotations

import abc
import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio

from sgm import melody
from sgm.soundfont import SoundFont, default_soundfont

STFT_TARGET_STD = 0.5
PIXEL_MAX = 255


@dataclass(frozen=True)
class Layout(abc.ABC):
    """Base of all layouts: checks shapes and applies the scale around `_arrange`/`_unarrange`."""

    name: ClassVar[str]
    holds_waveforms: ClassVar[bool] = True
    clip_samples: int
    sample_rate: int
    scale: float = 1.0
    preemphasis: float = 0.0
    band_hz: float | None = None

    def __post_init__(self):
        if not (isinstance(self.clip_samples, int) and self.clip_samples > 0):
            raise ValueError(f"{self.name}: clip_samples must be a positive int, got {self.clip_samples!r}")
        if not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"{self.name}: scale must be a positive finite number, got {self.scale!r}")
        if not (isinstance(self.preemphasis, (int, float)) and 0 <= self.preemphasis < 1):
            raise ValueError(f"{self.name}: preemphasis must be a number in [0, 1), got {self.preemphasis!r}")
        for waveform_option in ("preemphasis", "band_hz"):
            if getattr(self, waveform_option) not in (None, 0) and not self.holds_waveforms:
                raise ValueError(f"{self.name}: {waveform_option} applies to waveforms; this layout holds no audio samples")
        self._check_sample_rate()
        if self.band_hz is not None and not (isinstance(self.band_hz, (int, float)) and 0 < self.band_hz < self.sample_rate / 2):
            raise ValueError(f"{self.name}: band_hz must lie between 0 and the Nyquist frequency {self.sample_rate / 2} Hz, got {self.band_hz!r}")

    def _check_sample_rate(self):
        if not (isinstance(self.sample_rate, int) and self.sample_rate > 0):
            raise ValueError(f"{self.name}: sample_rate must be a positive int, got {self.sample_rate!r}")

    @property
    @abc.abstractmethod
    def shape(self) -> tuple[int, ...]:
        """Shape of one model example (C, ...)."""

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one example before arranging: (L,) for audio."""
        return (self.clip_samples,)

    def to_model(self, data: torch.Tensor) -> torch.Tensor:
        """Data (N, *data_shape), i.e. clips (N, L) -> model tensor (N, *shape), scaled."""
        _check_shape("input", data, self.data_shape, self.name)
        if self.preemphasis:
            data = preemphasize(data, self.preemphasis)
        return self._arrange(data) * self.scale

    def to_audio(self, x: torch.Tensor) -> torch.Tensor:
        """Model tensor (N, *shape) -> clips (N, L); the inverse of `to_model`, projected onto `band_hz`."""
        _check_shape("model tensor", x, self.shape, self.name)
        audio = self._unarrange(x / self.scale)
        if self.preemphasis:
            audio = deemphasize(audio, self.preemphasis)
        return band_limit(audio, self.sample_rate, self.band_hz) if self.band_hz is not None else audio

    def fit_scale(self, train: torch.Tensor, target_std: float | None = None) -> Layout:
        """A copy whose scale maps the training data `train` (N, L) into the model's range.

        The layout's own rule, or, with `target_std`, the scale that gives the training tensors that std.
        """
        unscaled = dataclasses.replace(self, scale=1.0).to_model(train)
        if target_std is None:
            return dataclasses.replace(self, scale=self._scale_for(unscaled))
        std = unscaled.double().std().item()
        if not std > 0:
            raise ValueError(f"{self.name}: the training data is constant (std 0); cannot scale it to std {target_std}")
        return dataclasses.replace(self, scale=target_std / std)

    def to_dict(self) -> dict:
        return {"layout": self.name, **dataclasses.asdict(self)}

    @abc.abstractmethod
    def _arrange(self, data: torch.Tensor) -> torch.Tensor:
        """Unscaled data (N, *data_shape) -> (N, *shape)."""

    @abc.abstractmethod
    def _unarrange(self, x: torch.Tensor) -> torch.Tensor:
        """Exact inverse of `_arrange`."""

    def _scale_for(self, unscaled: torch.Tensor) -> float:
        """The waveform rule: 1/peak, so the training data fills [-1, 1]."""
        peak = unscaled.abs().max().item() if unscaled.numel() else 0.0
        if not peak > 0:
            raise ValueError(f"{self.name}: the training data is silent (peak 0); cannot choose a scale")
        return 1.0 / peak


@dataclass(frozen=True)
class Waveform2d(Layout):
    """The clip as a 1 x side x side image, filled row by row (sample side*r + c at row r, column c)."""

    name: ClassVar[str] = "waveform2d"

    def __post_init__(self):
        super().__post_init__()
        side = math.isqrt(self.clip_samples)
        if side * side != self.clip_samples:
            raise ValueError(
                f"waveform2d: clip_samples={self.clip_samples} is not a square number of samples; "
                f"nearest fits are {side}x{side}={side * side} and {side + 1}x{side + 1}={(side + 1) ** 2}"
            )

    @property
    def shape(self) -> tuple[int, ...]:
        side = math.isqrt(self.clip_samples)
        return (1, side, side)

    def _arrange(self, data):
        return data.reshape(len(data), *self.shape)

    def _unarrange(self, x):
        return x.reshape(len(x), self.clip_samples)


@dataclass(frozen=True)
class Waveform1d(Layout):
    """The clip as a single 1 x L channel, for 1-D networks."""

    name: ClassVar[str] = "waveform1d"

    @property
    def shape(self) -> tuple[int, ...]:
        return (1, self.clip_samples)

    def _arrange(self, data):
        return data.reshape(len(data), 1, self.clip_samples)

    def _unarrange(self, x):
        return x.reshape(len(x), self.clip_samples)


@dataclass(frozen=True)
class Stft(Layout):
    """Real and imaginary STFT parts as 2 channels: frequency bins x frames.

    Frames start at hop*t - pad_left with pad = (frames-1)*hop + n_fft - L split evenly, the fewest
    frames that cover every sample. The Hamming window never reaches zero, so the overlap-add
    envelope is non-zero everywhere (NOLA) and `torch.istft` inverts exactly even at the padded
    edges, where a Hann window would vanish. The imaginary parts of the DC and Nyquist bins are zero
    for real audio; for any other tensor `to_audio` gives the least-squares fit.
    """

    name: ClassVar[str] = "stft"
    n_fft: int = 254
    hop: int = 128

    def __post_init__(self):
        super().__post_init__()
        if not (isinstance(self.n_fft, int) and isinstance(self.hop, int) and 0 < self.hop <= self.n_fft):
            raise ValueError(
                f"stft: need ints 0 < hop <= n_fft so every sample is in a frame, got n_fft={self.n_fft!r}, hop={self.hop!r}"
            )

    @property
    def frames(self) -> int:
        return 1 + max(0, math.ceil((self.clip_samples - self.n_fft) / self.hop))

    @property
    def shape(self) -> tuple[int, ...]:
        return (2, self.n_fft // 2 + 1, self.frames)

    @property
    def _padding(self) -> tuple[int, int]:
        total = (self.frames - 1) * self.hop + self.n_fft - self.clip_samples
        return total // 2, total - total // 2

    def _window(self, like: torch.Tensor) -> torch.Tensor:
        return torch.hamming_window(self.n_fft, dtype=like.dtype, device=like.device)

    def _arrange(self, data):
        padded = F.pad(data, self._padding)
        spec = torch.stft(padded, self.n_fft, self.hop, window=self._window(data), center=False, return_complex=True)
        return torch.stack([spec.real, spec.imag], dim=1)

    def _unarrange(self, x):
        spec = torch.complex(x[:, 0], x[:, 1])
        left, right = self._padding
        padded = torch.istft(
            spec, self.n_fft, self.hop, window=self._window(x), center=False, length=left + self.clip_samples + right
        )
        return padded[:, left : left + self.clip_samples]

    def _scale_for(self, unscaled):
        std = unscaled.std().item()
        if not std > 0:
            raise ValueError("stft: the training data is silent (coefficient std 0); cannot choose a scale")
        return STFT_TARGET_STD / std


@dataclass(frozen=True)
class Image(Layout):
    """Square uint8 images (N, side, side), enlarged `upsample` times and zero-padded to 1 x padded_size^2.

    `clip_samples` is the pixel count side*side and `sample_rate` must be 0: images are not audio.
    `upsample` (None: the largest whole factor that fits padded_size, e.g. 4 for 8x8 digits in 32x32,
    1 for 28x28 FashionMNIST) repeats each pixel in a block (nearest neighbour). Going back takes
    each block's mean, the exact inverse for enlarged images and the least-squares one for anything
    a model makes, so `to_images(to_model(images))` gives the images back unchanged.
    """

    name: ClassVar[str] = "image"
    holds_waveforms: ClassVar[bool] = False
    padded_size: int = 32
    upsample: int | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.side * self.side != self.clip_samples:
            raise ValueError(f"image: clip_samples must be the pixel count of a square image, got {self.clip_samples}")
        if not (isinstance(self.padded_size, int) and self.padded_size >= self.side):
            raise ValueError(f"image: padded_size must be an int >= the image side {self.side}, got {self.padded_size!r}")
        if self.upsample is None:
            object.__setattr__(self, "upsample", self.padded_size // self.side)
        if not (isinstance(self.upsample, int) and 1 <= self.upsample <= self.padded_size // self.side):
            raise ValueError(
                f"image: upsample must be an int from 1 to {self.padded_size // self.side} "
                f"(side {self.side} enlarged must fit padded_size {self.padded_size}), got {self.upsample!r}"
            )

    def _check_sample_rate(self):
        if self.sample_rate != 0:
            raise ValueError(f"image: images have no sample rate; pass sample_rate=0, got {self.sample_rate!r}")

    @property
    def side(self) -> int:
        return math.isqrt(self.clip_samples)

    @property
    def shape(self) -> tuple[int, ...]:
        return (1, self.padded_size, self.padded_size)

    @property
    def data_shape(self) -> tuple[int, ...]:
        return (self.side, self.side)

    @property
    def _padding(self) -> tuple[int, int]:
        total = self.padded_size - self.side * self.upsample
        return total // 2, total - total // 2

    def _arrange(self, data):
        left, right = self._padding
        enlarged = F.interpolate(data.float().unsqueeze(1), scale_factor=self.upsample, mode="nearest")
        return F.pad(enlarged, (left, right, left, right), value=0.0)

    def _unarrange(self, x):
        left, _ = self._padding
        size = self.side * self.upsample
        return F.avg_pool2d(x[:, :, left : left + size, left : left + size], self.upsample)[:, 0]

    def to_audio(self, x):
        raise ValueError("layout 'image' holds images, not audio: it has no to_audio; use to_images")

    def to_images(self, x: torch.Tensor) -> torch.Tensor:
        """Model tensor (N, 1, padded, padded) -> uint8 images (N, side, side), rounded and clipped."""
        _check_shape("model tensor", x, self.shape, self.name)
        return self._unarrange(x / self.scale).round().clamp(0, PIXEL_MAX).to(torch.uint8)

    def _scale_for(self, unscaled):
        return 1.0 / PIXEL_MAX


@dataclass(frozen=True)
class PianoRoll(Layout):
    """uint8 melody rolls (N, 3, pitches, steps) (see sgm.melody) as model tensors in [-1, 1].

    Onset and sustain map 0/1 to -1/+1 and velocity 0-127 to -1..+1; `clip_samples` is the length
    of a segment played at `step_seconds` per step on General MIDI `program` with the default
    SoundFont, which is what `to_audio` renders after thresholding (`to_rolls`).
    """

    name: ClassVar[str] = "pianoroll"
    holds_waveforms: ClassVar[bool] = False
    pitch_low: int = 48
    pitches: int = 32
    steps: int = 32
    step_seconds: float = 0.125
    program: int = 0

    def __post_init__(self):
        super().__post_init__()
        if self.clip_samples != round(self.steps * self.step_seconds * self.sample_rate):
            raise ValueError(
                f"pianoroll: clip_samples must be steps * step_seconds * sample_rate = "
                f"{round(self.steps * self.step_seconds * self.sample_rate)}, got {self.clip_samples}"
            )

    @property
    def shape(self) -> tuple[int, ...]:
        return (3, self.pitches, self.steps)

    @property
    def data_shape(self) -> tuple[int, ...]:
        return self.shape

    def _arrange(self, data):
        levels = torch.tensor([1.0, 1.0, 127.0]).view(1, 3, 1, 1)
        return data.float() / levels * 2 - 1

    def _unarrange(self, x):
        levels = torch.tensor([1.0, 1.0, 127.0], dtype=x.dtype).view(1, 3, 1, 1)
        return (x + 1) / 2 * levels

    def _scale_for(self, unscaled):
        return 1.0

    def to_rolls(self, x: torch.Tensor) -> torch.Tensor:
        """Model tensor -> uint8 rolls by sgm.melody's thresholds and decoding rules (canonical)."""
        _check_shape("model tensor", x, self.shape, self.name)
        rolls = self._unarrange(x / self.scale).numpy()
        return torch.from_numpy(np.stack([melody.canonical(melody.threshold(r)) for r in rolls]))

    def to_midi(self, roll: torch.Tensor):
        """One uint8 roll (3, pitches, steps) as a pretty_midi.PrettyMIDI."""
        return melody.roll_to_midi(roll.numpy(), self.pitch_low, self.step_seconds, self.program)

    def to_audio(self, x):
        """Model tensor -> mono clips (N, clip_samples): the thresholded rolls played on the default SoundFont."""
        synth = SoundFont(default_soundfont(), self.sample_rate)
        clips = []
        for roll in self.to_rolls(x):
            notes = [
                (self.pitch_low + n.pitch, n.start * self.step_seconds, n.end * self.step_seconds, n.velocity)
                for n in melody.roll_to_notes(roll.numpy())
            ]
            clips.append(synth.render_notes(self.program, notes, self.clip_samples).mean(axis=0))
        return torch.from_numpy(np.stack(clips))


def preemphasize(audio: torch.Tensor, coefficient: float) -> torch.Tensor:
    """y[n] = x[n] - coefficient * x[n-1] along the last axis, with x[-1] = 0."""
    emphasized = audio.clone()
    emphasized[..., 1:] -= coefficient * audio[..., :-1]
    return emphasized


def deemphasize(emphasized: torch.Tensor, coefficient: float) -> torch.Tensor:
    """The exact inverse of `preemphasize`: x[n] = y[n] + coefficient * x[n-1]."""
    denominator = torch.tensor([1.0, -coefficient], dtype=emphasized.dtype, device=emphasized.device)
    numerator = torch.tensor([1.0, 0.0], dtype=emphasized.dtype, device=emphasized.device)
    return torchaudio.functional.lfilter(emphasized, denominator, numerator, clamp=False)


def band_limit(audio: torch.Tensor, sample_rate: int, band_hz: float) -> torch.Tensor:
    """Clips (..., L) with every Fourier coefficient above `band_hz` set to zero (an orthogonal projection)."""
    spectrum = torch.fft.rfft(audio, dim=-1)
    above = torch.fft.rfftfreq(audio.shape[-1], 1 / sample_rate, device=audio.device) > band_hz
    spectrum[..., above] = 0
    return torch.fft.irfft(spectrum, n=audio.shape[-1], dim=-1)


LAYOUTS: dict[str, type[Layout]] = {cls.name: cls for cls in (Waveform2d, Waveform1d, Stft, Image, PianoRoll)}


def make_layout(name: str, clip_samples: int, sample_rate: int, scale: float = 1.0, **options) -> Layout:
    """Build the layout `name` for clips of `clip_samples` samples; `options` are its extra fields."""
    if name not in LAYOUTS:
        raise ValueError(f"unknown layout {name!r}; accepted: {', '.join(LAYOUTS)}")
    cls = LAYOUTS[name]
    accepted = [f.name for f in dataclasses.fields(cls) if f.name not in ("clip_samples", "sample_rate", "scale")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"layout {name!r} has no option(s) {unknown}; accepted: {accepted or 'none'}")
    return cls(clip_samples=clip_samples, sample_rate=sample_rate, scale=scale, **options)


def layout_from_dict(d: dict) -> Layout:
    """Rebuild a layout from `to_dict()` output (as stored in layout.json)."""
    d = dict(d)
    if "layout" not in d:
        raise ValueError(f"layout dict has no 'layout' key: {d}")
    return make_layout(d.pop("layout"), **d)


def _check_shape(what: str, t: torch.Tensor, shape: tuple[int, ...], layout: str) -> None:
    if not isinstance(t, torch.Tensor) or tuple(t.shape[1:]) != shape or t.ndim != len(shape) + 1:
        given = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise ValueError(f"{layout}: {what} must have shape (N, {', '.join(map(str, shape))}), got {given}")
