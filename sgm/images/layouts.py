"""The layout of images: square uint8 images enlarged by a whole factor and zero-padded (no audio)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from sgm.kinds.layout import Layout, check_shape, quantization_bin_width

PIXEL_MAX = 255


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
    kind: ClassVar[str] = "images"
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

    @classmethod
    def planned_shape(cls, clip_samples: int, sample_rate: int, options: dict) -> tuple[int, ...]:
        """Images of any size are padded to padded_size: (1, padded_size, padded_size)."""
        size = options.get("padded_size", cls.padded_size)
        return (1, size, size)

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
        check_shape("model tensor", x, self.shape, self.name)
        return self._unarrange(x / self.scale).round().clamp(0, PIXEL_MAX).to(torch.uint8)

    def bin_width(self) -> float | None:
        """One grey level, `scale` wide (8-bit units); None for enlarged images, whose pixels repeat."""
        return quantization_bin_width(256, 0.0, 256.0, scale=self.scale) if self.upsample == 1 else None

    def _scale_for(self, unscaled):
        return 1.0 / PIXEL_MAX


LAYOUTS = {Image.name: Image}
