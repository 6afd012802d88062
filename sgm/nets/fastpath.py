"""Which speed-ups a training or sampling run uses: bf16 autocast, channels_last and torch.compile.

`choose(mode, compile, device, dims)` turns the `fast_path` and `compile` settings into a
`FastPath`. "off" is plain float32; "on" takes bf16 autocast and channels_last (for 2-D nets)
wherever the device runs them; "auto" takes only what was measured faster on that kind of device
(benchmarks/run.py): on CUDA all of it, on a CPU bf16 autocast when the CPU has native bf16
instructions (AVX512_BF16 or AMX; emulated bf16 is slower than float32) and channels_last for
2-D nets. torch.compile follows the `compile` setting ("auto": on for CUDA only, because on a
2-core CPU it costs a minute or more of compiling per run).

bf16 changes results only by bf16 rounding inside the net; the loss, the optimizer and the
weights stay float32, and runs stay bitwise reproducible on the same machine.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import torch

MODES = ("auto", "on", "off")
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU computes in bf16 natively (AVX512_BF16 or AMX-BF16), read from its flags."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(NATIVE_BF16_FLAGS & set(line.split(":", 1)[1].split()))
    return False


@dataclass(frozen=True)
class FastPath:
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False

    def autocast(self, device: torch.device):
        """bf16 autocast on `device` when on, else a context that does nothing."""
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)

    def memory_format(self, dims: int) -> torch.memory_format:
        """channels_last for (N, C, H, W) tensors when on; other tensors keep their layout."""
        return torch.channels_last if self.channels_last and dims == 4 else torch.preserve_format

    def describe(self) -> str:
        used = [name for name in ("bf16", "channels_last", "compile") if getattr(self, name)]
        return " + ".join(used) if used else "float32"


def choose(mode: str | FastPath, compile: str, device: torch.device, dims: int) -> FastPath:
    """The speed-ups for `mode` (auto|on|off) and `compile` (auto|on|off) on `device`, for inputs of `dims` dimensions.

    A FastPath given as `mode` is taken as it is (benchmarks measure each speed-up on its own).
    """
    if isinstance(mode, FastPath):
        return mode
    if mode not in MODES or compile not in MODES:
        raise ValueError(f"fast_path and compile must each be one of {MODES}, got {mode!r} and {compile!r}")
    cuda = torch.device(device).type == "cuda"
    compiled = compile == "on" or (compile == "auto" and cuda)
    if mode == "off":
        return FastPath(compile=compiled)
    bf16 = cuda or mode == "on" or cpu_has_native_bf16()
    return FastPath(bf16=bf16, channels_last=dims == 4, compile=compiled)


class Accelerated(torch.nn.Module):
    """`net` for inference on the fast path: inputs in its memory format, bf16 autocast, float32 output.

    The sampler's own arithmetic (the state, the noise, the steps) stays float32; only the net
    runs in bf16. With `speed.compile` the net is compiled (on its first call, for each new input shape).
    """

    def __init__(self, net: torch.nn.Module, speed: FastPath):
        super().__init__()
        net = net.to(memory_format=speed.memory_format(4))
        self.net, self.speed = torch.compile(net) if speed.compile else net, speed

    @property
    def embed(self) -> torch.nn.Module:
        """The wrapped net's time and label embedding (its label vocabulary sizes, for guidance)."""
        return self.net.embed

    def forward(self, x: torch.Tensor, t: torch.Tensor, *args) -> torch.Tensor:
        with self.speed.autocast(x.device):
            out = self.net(x.contiguous(memory_format=self.speed.memory_format(x.dim())), t, *args)
        return out.float().contiguous()
