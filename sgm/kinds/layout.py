"""How data become model tensors and back: invertible layouts with a stored scale.

A layout maps a batch of data (N, *data_shape), e.g. clips (N, L), to model inputs (N, *shape) as
`x = scale * arrange(data)` and back with the exact inverse, so anything the model produces can be
listened to or looked at. `scale` is chosen once from the training split (`fit_scale`) and saved
with the tensors (`to_dict`), so every later stage maps samples back the same way. Each kind of data
has its layouts (sgm.notes.layouts, sgm.images.layouts, sgm.melodies.layouts).

Waveform layouts can pre-emphasise the clip first (`preemphasis` a: y[n] = x[n] - a x[n-1],
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

Scale rules (`fit_scale`): each layout's own (`_scale_for`; waveforms 1/peak|train|, so the
training clips fill [-1, 1]), or with `target_std` the scale that gives the training tensors that
standard deviation (EDM assumes data of std 0.5).
"""

from __future__ import annotations

import abc
import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torchaudio


@dataclass(frozen=True)
class Layout(abc.ABC):
    """Base of all layouts: checks shapes and applies the scale around `_arrange`/`_unarrange`."""

    name: ClassVar[str]
    kind: ClassVar[str]  # the kind of data it holds (sgm.kinds)
    net: ClassVar[str] = "unet2d"  # the U-Net family its tensors fit (sgm.nets.build)
    holds_waveforms: ClassVar[bool] = True
    measures_roundtrip: ClassVar[bool] = False  # an inverse exact only up to rounding, worth measuring (tensorize)
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

    @classmethod
    def planned_shape(cls, clip_samples: int, sample_rate: int, options: dict) -> tuple[int, ...]:
        """The shape of one model example for data of `clip_samples` values, before the data exist (params checks)."""
        return cls(clip_samples=clip_samples, sample_rate=sample_rate, **options).shape

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one example before arranging: (L,) for audio."""
        return (self.clip_samples,)

    def to_model(self, data: torch.Tensor) -> torch.Tensor:
        """Data (N, *data_shape), i.e. clips (N, L) -> model tensor (N, *shape), scaled."""
        check_shape("input", data, self.data_shape, self.name)
        if self.preemphasis:
            data = preemphasize(data, self.preemphasis)
        return self._arrange(data) * self.scale

    def to_audio(self, x: torch.Tensor) -> torch.Tensor:
        """Model tensor (N, *shape) -> clips (N, L); the inverse of `to_model`, projected onto `band_hz`."""
        check_shape("model tensor", x, self.shape, self.name)
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
        return {"layout": self.name, "kind": self.kind, **dataclasses.asdict(self)}

    def bin_width(self) -> float | None:
        """Width in model units of one level of the stored data, or None where bits/dim has no such unit
        (a density over the model tensor is then not one over the stored values)."""
        return None

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


def quantization_bin_width(levels: int, low: float, high: float, scale: float = 1.0) -> float:
    """Width, in model units, of one quantisation bin of data stored with `levels` levels on [low, high).

    Convention: the levels split [low, high) into `levels` equal cells, width
    scale * (high - low) / levels. This is how 16-bit PCM is decoded to floats
    (int16 k -> k / 32768, k in [-32768, 32767]): levels=65536, low=-1, high=1 gives
    2^-15 exactly, i.e. an offset of 15 - log2(scale) bits per dimension in
    bits_per_dim. (Putting levels on both end points, width (high - low) / (levels - 1),
    would change that offset by log2(65536/65535) ~ 2e-5 bits.)
    """
    if not (isinstance(levels, int) and levels >= 2):
        raise ValueError(f"levels must be an integer >= 2, got {levels!r}")
    if not high > low:
        raise ValueError(f"need high > low, got low={low}, high={high}")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    return scale * (high - low) / levels


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


def check_shape(what: str, t: torch.Tensor, shape: tuple[int, ...], layout: str) -> None:
    if not isinstance(t, torch.Tensor) or tuple(t.shape[1:]) != shape or t.ndim != len(shape) + 1:
        given = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise ValueError(f"{layout}: {what} must have shape (N, {', '.join(map(str, shape))}), got {given}")
