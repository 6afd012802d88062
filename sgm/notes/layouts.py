"""The layouts of single-note clips: the waveform as an image, as a channel, or as its STFT.

- `waveform2d`: the clip reshaped row by row into a 1 x side x side image (the study's choice).
- `waveform1d`: the clip as one 1 x L channel, for 1-D networks.
- `stft`: real and imaginary STFT parts, 2 x (n_fft//2 + 1) x frames; 2x128x128 for 16384 samples
  with n_fft 254, hop 128.

Scale rules: waveforms 1/peak|train| (see sgm.kinds.layout); stft 0.5/std(train coefficients),
since a peak rule would let a few loud low bins squash the rest. Waveforms are stored as 16-bit
PCM, so a level of the stored data is scale * 2^-15 wide in model units (bits/dim in 16-bit units);
STFT tensors hold twice as many numbers as the clip has samples, so their density is not one over
the stored samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from sgm.kinds.layout import Layout, quantization_bin_width

STFT_TARGET_STD = 0.5
PCM16_LEVELS = (65536, -1.0, 1.0)  # int16 k decodes to k / 32768: 2^-15 apart on [-1, 1)


@dataclass(frozen=True)
class ClipLayout(Layout):
    """A layout of single-note clips (N, L)."""

    kind: ClassVar[str] = "notes"

    def keep_mask(self, keep: torch.Tensor) -> torch.Tensor:
        """The model coordinates (1, *shape) fixed by keeping the audio samples `keep` (L,) bool (inpainting)."""
        if keep.shape != (self.clip_samples,) or keep.dtype != torch.bool:
            raise ValueError(f"keep must be a bool tensor of shape ({self.clip_samples},), got {keep.dtype} {tuple(keep.shape)}")
        return self._kept_coordinates(keep)

    def _kept_coordinates(self, keep: torch.Tensor) -> torch.Tensor:
        """Waveforms keep exactly the kept samples."""
        return self.to_model(keep[None].float()) > 0

    def bin_width(self) -> float | None:
        """A 16-bit level: scale * 2^-15, so bits/dim are in 16-bit units (a uniform density on [-1, 1) scores 16)."""
        return quantization_bin_width(*PCM16_LEVELS, scale=self.scale)


@dataclass(frozen=True)
class Waveform2d(ClipLayout):
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
class Waveform1d(ClipLayout):
    """The clip as a single 1 x L channel, for 1-D networks."""

    name: ClassVar[str] = "waveform1d"
    net: ClassVar[str] = "unet1d"

    @property
    def shape(self) -> tuple[int, ...]:
        return (1, self.clip_samples)

    def _arrange(self, data):
        return data.reshape(len(data), 1, self.clip_samples)

    def _unarrange(self, x):
        return x.reshape(len(x), self.clip_samples)


@dataclass(frozen=True)
class Stft(ClipLayout):
    """Real and imaginary STFT parts as 2 channels: frequency bins x frames.

    Frames start at hop*t - pad_left with pad = (frames-1)*hop + n_fft - L split evenly, the fewest
    frames that cover every sample. The Hamming window never reaches zero, so the overlap-add
    envelope is non-zero everywhere (NOLA) and `torch.istft` inverts exactly even at the padded
    edges, where a Hann window would vanish. The imaginary parts of the DC and Nyquist bins are zero
    for real audio; for any other tensor `to_audio` gives the least-squares fit.
    """

    name: ClassVar[str] = "stft"
    measures_roundtrip: ClassVar[bool] = True
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

    def _kept_coordinates(self, keep: torch.Tensor) -> torch.Tensor:
        """The frames whose window lies wholly on kept samples (padding counts as kept: it is silence in both)."""
        padded = F.pad(keep[None].float(), self._padding, value=1.0)[0]
        frames = padded.unfold(0, self.n_fft, self.hop).all(dim=1)
        return frames.bool().expand(1, *self.shape)

    def bin_width(self) -> float | None:
        """None: the tensors hold twice as many numbers as the clip has samples."""
        return None

    def _scale_for(self, unscaled):
        std = unscaled.std().item()
        if not std > 0:
            raise ValueError("stft: the training data is silent (coefficient std 0); cannot choose a scale")
        return STFT_TARGET_STD / std


LAYOUTS = {cls.name: cls for cls in (Waveform2d, Waveform1d, Stft)}
