import pytest
import torch

from sgm.nets.build import NETS, build_net, count_flops
from sgm.nets.layers import group_norm
from sgm.nets.unet1d import SelfAttention1d, UNet1d
from sgm.nets.unet2d import UNet2d

STUDY_CHANNELS = [
    [32, 64, 128, 256],
    [128, 128, 128, 256],
    [128, 256, 256, 512],
    [128, 256, 512, 1024],
    [128, 128, 128, 128, 128],
    [128, 256, 256, 512, 1024],
    [128, 256, 256, 256, 512],
    [128, 256, 512, 1024, 2048],
    [64, 128, 256, 512, 1024, 2048],
    [128, 256, 512, 512, 1024, 2048],
    [128, 256, 512, 1024, 2048, 4096],
    [128, 256, 256, 512, 512, 512],
]
META = torch.device("meta")


@pytest.mark.parametrize("channels", STUDY_CHANNELS, ids=lambda c: "-".join(map(str, c)))
@pytest.mark.parametrize("size", [128, 32])
def test_study_nets_keep_the_input_shape(channels, size):
    with META:
        net = build_net("unet2d", channels, blocks=len(channels))
        out = net(torch.empty(3, 1, size, size), torch.empty(3))
    assert out.shape == (3, 1, size, size)


@pytest.mark.parametrize("size", [128, 32])
def test_tutorial_net_runs_on_cpu(size):
    torch.manual_seed(0)
    net = UNet2d([32, 64, 128, 256])
    out = net(torch.randn(2, 1, size, size), torch.tensor([0.1, 0.9]))
    assert out.shape == (2, 1, size, size)
    assert torch.isfinite(out).all()
    assert out[0].std() > 0 and not torch.allclose(out[0], out[1])


def test_same_seed_gives_same_net():
    x, t = torch.randn(1, 1, 16, 16), torch.tensor([0.3])
    outputs = []
    for _ in range(2):
        torch.manual_seed(7)
        outputs.append(UNet2d([8, 16])(x, t))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)


def test_waveform_net_runs_on_16384_samples():
    torch.manual_seed(0)
    net = UNet1d([8, 16, 32, 32])
    out = net(torch.randn(2, 1, 16384), torch.tensor([0.2, 0.7]))
    assert out.shape == (2, 1, 16384)
    assert torch.isfinite(out).all() and out.std() > 0


def test_new_attention_block_is_the_identity_and_then_mixes_all_positions():
    torch.manual_seed(0)
    block, x = SelfAttention1d(16, heads=4), torch.randn(2, 16, 64)
    torch.testing.assert_close(block(x), x, rtol=0, atol=0)
    torch.nn.init.normal_(block.out.weight)
    moved = x.clone()
    moved[:, :, -1] += 1.0
    changed = (block(moved) - block(x)).abs().amax(dim=1)
    assert (changed > 1e-4).all()  # the last position reaches every output position
    order = torch.randperm(64)
    torch.testing.assert_close(block(x[:, :, order]), block(x)[:, :, order], rtol=1e-5, atol=1e-5)


def test_waveform_net_with_attention_starts_as_the_net_without():
    x, t, labels = torch.randn(2, 1, 1024), torch.tensor([0.2, 0.7]), torch.tensor([[1, 0], [2, 1]])
    torch.manual_seed(3)
    plain = UNet1d([8, 16, 16], num_classes=[3, 2])
    torch.manual_seed(3)
    attending = UNet1d([8, 16, 16], num_classes=[3, 2], attention_heads=4)
    missing, unexpected = attending.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(key.startswith("middle.") for key in missing)
    torch.testing.assert_close(attending(x, t, labels), plain(x, t, labels), rtol=0, atol=0)


@pytest.mark.parametrize("heads", [-1, 3])
def test_attention_heads_must_divide_the_last_channels(heads):
    with pytest.raises(ValueError, match=f"attention over 16 channels needs a head count >= 1 that divides it, got {heads}"):
        UNet1d([8, 16], attention_heads=heads)


@pytest.mark.parametrize("channels", [[32, 64, 128, 256], [64, 128, 256, 512, 1024, 2048]])
def test_deep_waveform_nets_keep_the_input_shape(channels):
    with META:
        net = build_net("unet1d", channels, blocks=len(channels), input_size=16384)
        out = net(torch.empty(2, 1, 16384), torch.empty(2))
    assert out.shape == (2, 1, 16384)


def test_class_label_changes_the_output():
    torch.manual_seed(0)
    net = UNet2d([8, 16], num_classes=[3, 2], embed_dim=16)
    x, t = torch.randn(1, 1, 8, 8).expand(2, -1, -1, -1), torch.full((2,), 0.5)
    out = net(x, t, torch.tensor([[0, 1], [2, 1]]))
    assert (out[0] - out[1]).abs().max() > 1e-3
    second_kind = net(x, t, torch.tensor([[1, 0], [1, 2]]))  # 2 = "no label" of the second kind
    assert (second_kind[0] - second_kind[1]).abs().max() > 1e-3
    torch.testing.assert_close(net(x, t, torch.tensor([[1, 1], [1, 1]]))[0], net(x, t, torch.tensor([[1, 1], [0, 0]]))[0])
    with pytest.raises(ValueError, match=r"num_classes=\[3, 2\]"):
        net(x, t)
    with pytest.raises(ValueError, match=r"shape \(2, 2\), got \(2,\)"):
        net(x, t, torch.tensor([0, 1]))


def test_unconditional_net_rejects_labels():
    with pytest.raises(ValueError, match="num_classes=0"):
        UNet2d([4, 8])(torch.randn(1, 1, 8, 8), torch.rand(1), torch.tensor([[0]]))


@pytest.mark.parametrize(
    "net, shape, accepted",
    [
        (UNet2d([4, 8, 8, 8]), (2, 1, 30, 30), "divisible by 8"),
        (UNet2d([4, 8, 8, 8, 8, 8]), (2, 1, 128, 48), "divisible by 32"),
        (UNet2d([4, 8]), (2, 3, 8, 8), r"\(batch, 1, H, W\)"),
        (UNet2d([4, 8]), (1, 8, 8), r"\(batch, 1, H, W\)"),
        (UNet1d([4, 8, 8]), (2, 1, 1000), "divisible by 16"),
    ],
)
def test_bad_input_shape_is_named(net, shape, accepted):
    with pytest.raises(ValueError, match=accepted) as err:
        net(torch.zeros(shape), torch.zeros(shape[0]))
    assert str(tuple(shape)) in str(err.value)


def test_bad_time_shape_is_named():
    with pytest.raises(ValueError, match=r"\(batch,\) = \(2,\), got \(2, 1\)"):
        UNet2d([4, 8])(torch.zeros(2, 1, 8, 8), torch.zeros(2, 1))


def test_input_size_is_checked_at_construction():
    assert UNet2d([4, 8, 8], input_size=(128, 64)).input_size == (128, 64)
    with pytest.raises(ValueError, match=r"divisible by 4 .* got shape \(1, 1, 30, 30\)"):
        UNet2d([4, 8, 8], input_size=30)
    with pytest.raises(ValueError, match=r"got shape \(1, 1, 100\)"):
        UNet1d([4, 8, 8], input_size=100)


@pytest.mark.parametrize("channels", [[], [32, 0, 64], [32, -8], [32, 2.5]])
def test_bad_channel_lists_are_rejected(channels):
    with pytest.raises(ValueError, match="non-empty list of positive integers"):
        build_net("unet2d", channels)


def test_block_count_must_match_channel_list():
    with pytest.raises(ValueError, match=r"channel list \[32, 64, 128, 256\] has 4 entries but blocks=5"):
        build_net("unet2d", [32, 64, 128, 256], blocks=5)


def test_unknown_kind_and_parameter_are_rejected():
    with pytest.raises(ValueError, match="'unet3d'; accepted: unet2d, unet1d"):
        build_net("unet3d", [4, 8])
    with pytest.raises(ValueError, match="'depth'"):
        build_net("unet1d", [4, 8], depth=3)
    assert set(NETS) == {"unet2d", "unet1d"}


@pytest.mark.parametrize(
    "channels, groups",
    [(32, 8), (64, 16), (96, 24), (128, 32), (4096, 32), (24, 6), (40, 10), (36, 9), (7, 1), (1, 1)],
)
def test_group_norm_fits_any_channel_count(channels, groups):
    assert group_norm(channels).num_groups == groups


def test_time_embedding_reaches_every_block():
    torch.manual_seed(0)
    net = UNet2d([32, 64])
    x = torch.randn(1, 1, 8, 8)
    h = x
    for block in net.down:
        early, late = block(h, net.embed(torch.tensor([0.1]), None)), block(h, net.embed(torch.tensor([0.9]), None))
        assert (early - late).abs().max() > 1e-3
        h = early


def test_channels_last_matches_contiguous():
    torch.manual_seed(0)
    net = UNet2d([8, 16, 24], num_classes=2)
    x, t, labels = torch.randn(2, 1, 16, 16), torch.tensor([0.05, 0.6]), torch.tensor([[1], [0]])
    expected = net(x, t, labels)
    net = net.to(memory_format=torch.channels_last)
    out = net(x.to(memory_format=torch.channels_last), t, labels)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)


def test_bf16_autocast_stays_close_to_fp32():
    torch.manual_seed(0)
    net = UNet2d([8, 16, 16])
    x, t = torch.randn(2, 1, 16, 16), torch.tensor([0.3, 0.8])
    expected = net(x, t)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x, t)
    assert out.dtype == torch.bfloat16
    assert (out.float() - expected).norm() < 0.05 * expected.norm()


def test_count_flops_matches_a_hand_count():
    net = UNet2d([2, 4], embed_dim=4)
    flops = count_flops(net, torch.zeros(1, 1, 8, 8))
    time_dense = 2 * 4 * 4
    down1 = 2 * (1 * 9) * 2 * 8 * 8 + 2 * 4 * 2  # 3x3 conv 1->2 at 8x8, dense 4->2
    down2 = 2 * (2 * 9) * 4 * 4 * 4 + 2 * 4 * 4  # 3x3 conv 2->4 stride 2 to 4x4, dense 4->4
    up = 2 * (4 * 9) * 2 * 4 * 4 + 2 * 4 * 2  # transposed 4->2 from 4x4 inputs, dense 4->2
    head = 2 * (4 * 9) * 1 * 8 * 8  # 3x3 conv of the concatenation 2+2 -> 1
    assert flops == time_dense + down1 + down2 + up + head == 11616
    conditional = UNet2d([2, 4], embed_dim=4, num_classes=3)
    assert count_flops(conditional, torch.zeros(1, 1, 8, 8), torch.tensor([[2]])) == flops


def test_count_flops_on_meta_scales_with_batch():
    with META:
        net = UNet2d([128, 256, 512, 1024, 2048, 4096])
        one, four = (count_flops(net, torch.empty(b, 1, 128, 128)) for b in (1, 4))
    assert four == 4 * one > 0
