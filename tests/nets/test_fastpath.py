"""sgm.fastpath: which speed-ups are chosen, and that the accelerated net computes what the net computes."""

import pytest
import torch

from sgm.nets import fastpath
from sgm.nets.build import build_net
from sgm.nets.fastpath import Accelerated, FastPath

CPU = torch.device("cpu")


def small_net(kind: str = "unet2d") -> torch.nn.Module:
    torch.manual_seed(0)
    return build_net(kind, [8, 16], num_classes=[4]).eval().requires_grad_(False)


def inputs(shape=(3, 1, 16, 16)):
    generator = torch.Generator().manual_seed(1)
    return torch.randn(shape, generator=generator), torch.rand(shape[0], generator=generator) + 0.1, torch.tensor([[0], [3], [4]])


@pytest.mark.parametrize(("flags", "native"), [("fpu avx512f avx512_bf16 sse", True), ("fpu amx_bf16", True), ("fpu avx512f avx2", False)])
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert fastpath.cpu_has_native_bf16(cpuinfo) is native
    assert fastpath.cpu_has_native_bf16(tmp_path / "missing") is False


def test_choose_follows_the_modes():
    assert fastpath.choose("off", "off", CPU, 4) == FastPath()
    assert fastpath.choose("on", "off", CPU, 4) == FastPath(bf16=True, channels_last=True)
    assert fastpath.choose("on", "on", CPU, 3) == FastPath(bf16=True, channels_last=False, compile=True)
    assert fastpath.choose("auto", "auto", CPU, 4).compile is False  # compiling pays on CUDA only
    assert fastpath.choose("auto", "off", CPU, 4).bf16 is fastpath.cpu_has_native_bf16()
    with pytest.raises(ValueError, match="fast_path and compile must each be one of"):
        fastpath.choose("fast", "off", CPU, 4)


def test_float32_path_is_the_net_itself():
    net = small_net()
    x, t, labels = inputs()
    assert torch.equal(Accelerated(net, FastPath())(x, t, labels), net(x, t, labels))


def test_bf16_and_channels_last_change_the_output_only_by_bf16_rounding():
    net = small_net()
    x, t, labels = inputs()
    exact = net(x, t, labels)
    fast = Accelerated(small_net(), FastPath(bf16=True, channels_last=True))(x, t, labels)
    assert fast.dtype == torch.float32 and fast.is_contiguous()
    error = (fast - exact).norm() / exact.norm()
    assert 0 < error < 0.03  # bf16 keeps 8 bits of mantissa: relative errors of about 2**-8 per operation


def test_compiled_path_computes_the_same_and_keeps_the_label_embedding():
    x, t, labels = inputs((3, 1, 64))
    eager = small_net("unet1d")
    compiled = Accelerated(small_net("unet1d"), FastPath(compile=True))
    with torch.inference_mode():
        assert torch.allclose(compiled(x, t, labels), eager(x, t, labels), rtol=1e-4, atol=1e-5)
    assert compiled.embed is compiled.net._orig_mod.embed
