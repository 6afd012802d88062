import copy
import math

import pytest
import torch

from sgm.checkpoints.files import read_checkpoint
from sgm.checkpoints.inference import load_for_inference
from sgm.core.losses import DenoisingScoreMatching
from sgm.core.sde import TutorialVESDE, make_sde
from sgm.nets.build import build_net
from sgm.training.ema import ema_decay_at
from sgm.training.evaluation import evaluate_loss
from sgm.training.loop import TrainingDiverged, TrainingStopped
from sgm.training.order import epoch_order
from tests.helpers.reference_settings import fit

STUDY_LOSS = DenoisingScoreMatching("study")
CONFIG = {"net": "unet2d", "channels": [8, 16], "embed_dim": 16, "sde": {"name": "tutorial_ve", "sigma": 25.0}}
BATCH = 8
N = 32  # 4 steps per epoch


def tiny_net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_net(CONFIG["net"], CONFIG["channels"], embed_dim=CONFIG["embed_dim"])


def stripes(n: int = N, size: int = 16, seed: int = 0) -> torch.Tensor:
    """Images of horizontal cosine stripes with random frequency and phase: easy to learn."""
    generator = torch.Generator().manual_seed(seed)
    freq = torch.randint(1, 3, (n, 1, 1, 1), generator=generator)
    phase = 2 * math.pi * torch.rand(n, 1, 1, 1, generator=generator)
    columns = torch.arange(size).reshape(1, 1, 1, size)
    return torch.cos(2 * math.pi * freq * columns / size + phase).expand(n, 1, size, size).contiguous()


def run(checkpoint_dir, net=None, data=None, **overrides):
    kwargs = dict(lr=3e-3, batch_size=BATCH, epochs=[1, 2, 3], checkpoint_dir=checkpoint_dir, seed=0, config=CONFIG)
    kwargs.update(overrides)
    net = tiny_net() if net is None else net
    losses = fit(net, make_sde(**CONFIG["sde"]), stripes() if data is None else data, **kwargs)
    return net, losses


def test_training_lowers_the_test_loss_and_writes_a_checkpoint_per_listed_epoch(tmp_path):
    sde = make_sde(**CONFIG["sde"])
    held_out = stripes(64, seed=1)
    before = evaluate_loss(tiny_net(), sde, held_out, batch_size=32, seed=0, loss=STUDY_LOSS)
    logged, saved = [], []
    net, losses = run(tmp_path, log=lambda step, metrics: logged.append((step, metrics)), log_every=5,
                      on_checkpoint=lambda epoch, path: saved.append((epoch, path.name)))
    after = evaluate_loss(net, sde, held_out, batch_size=32, seed=0, loss=STUDY_LOSS)
    assert after < 0.8 * before
    assert sorted(losses) == [1, 2, 3] and all(math.isfinite(v) for v in losses.values())
    assert saved == [(1, "epoch_001.pt"), (2, "epoch_002.pt"), (3, "epoch_003.pt")]
    window_logs = [(step, m) for step, m in logged if "train_loss" in m]
    epoch_logs = [(step, m) for step, m in logged if "epoch" in m]
    assert [step for step, _ in window_logs] == [5, 10]
    assert set(window_logs[0][1]) == {"train_loss", "lr", "samples_per_second"}
    assert [(step, m["epoch"], m["epoch_train_loss"]) for step, m in epoch_logs] == [(4 * e, e, losses[e]) for e in (1, 2, 3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_001.pt", "epoch_002.pt", "epoch_003.pt", "last.pt"]
    state = torch.load(tmp_path / "epoch_002.pt", weights_only=True)
    assert (state["step"], state["epoch"], state["config"]) == (8, 2, CONFIG)
    assert state["train_loss"] == {1: losses[1], 2: losses[2]}


def test_stopping_and_resuming_gives_bitwise_the_weights_of_a_straight_run(tmp_path):
    straight, straight_losses = run(tmp_path / "straight")
    _, partial_losses = run(tmp_path / "resumed", max_steps=6)  # stops in the middle of epoch 2
    assert sorted(partial_losses) == [1]
    assert read_checkpoint(tmp_path / "resumed" / "last.pt")["batch_in_epoch"] == 2
    resumed, resumed_losses = run(tmp_path / "resumed", net=tiny_net(seed=99))
    assert resumed_losses == straight_losses
    for name, tensor in straight.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name
    ema_straight = read_checkpoint(tmp_path / "straight" / "epoch_003.pt")["ema"]
    ema_resumed = read_checkpoint(tmp_path / "resumed" / "epoch_003.pt")["ema"]
    assert all(torch.equal(ema_straight[k], ema_resumed[k]) for k in ema_straight)


def crash_at(bad_step):
    def log(step, metrics):
        if step == bad_step and "train_loss" in metrics:
            raise RuntimeError("killed")
    return log


def assert_same_weights(first, second):
    assert first["step"] == second["step"]
    for key in ("model", "ema"):
        assert all(torch.equal(first[key][name], second[key][name]) for name in first[key]), key


def test_periodic_saves_let_a_run_killed_mid_epoch_resume_bitwise(tmp_path):
    run(tmp_path / "straight")
    with pytest.raises(RuntimeError, match="killed"):  # a crash after step 7, the 3rd of epoch 2
        run(tmp_path / "crashed", save_every_steps=3, log=crash_at(7), log_every=1)
    state = read_checkpoint(tmp_path / "crashed" / "last.pt")
    assert (state["step"], state["epoch"], state["batch_in_epoch"]) == (6, 1, 2)
    run(tmp_path / "crashed", net=tiny_net(seed=99))
    for name in ("epoch_001.pt", "epoch_002.pt", "epoch_003.pt"):
        assert_same_weights(read_checkpoint(tmp_path / "straight" / name), read_checkpoint(tmp_path / "crashed" / name))


def test_a_time_based_save_writes_last_pt_mid_epoch(tmp_path):
    with pytest.raises(RuntimeError, match="killed"):
        run(tmp_path, save_every_seconds=1e-9, log=crash_at(3), log_every=1)  # due after every step
    assert read_checkpoint(tmp_path / "last.pt")["step"] == 3


def test_a_stop_request_saves_the_state_and_resumes_bitwise(tmp_path):
    run(tmp_path / "straight")
    asked = iter(range(100))
    with pytest.raises(TrainingStopped, match="after step 6 \\(in epoch 2\\)"):
        run(tmp_path / "stopped", stop=lambda: next(asked) == 4)  # asked after steps 1, 2, 3, 5, 6: yes at 6
    assert read_checkpoint(tmp_path / "stopped" / "last.pt")["batch_in_epoch"] == 2
    run(tmp_path / "stopped", net=tiny_net(seed=99))
    assert_same_weights(read_checkpoint(tmp_path / "straight" / "epoch_003.pt"), read_checkpoint(tmp_path / "stopped" / "epoch_003.pt"))


def test_a_decaying_learning_rate_is_logged_resumes_bitwise_and_leaves_checkpoints_before_the_decay_alone(tmp_path):
    constant, _ = run(tmp_path / "constant")
    logged = []
    decayed, _ = run(tmp_path / "linear", lr_schedule="linear", lr_decay_fraction=0.5, log=lambda step, m: logged.append((step, m.get("lr"))), log_every=1)
    rates = [rate for _, rate in logged if rate is not None]
    assert rates == pytest.approx([3e-3] * 6 + [3e-3 * k / 6 for k in range(6, 0, -1)])  # 12 steps, the last 6 decay
    first = [read_checkpoint(tmp_path / run_dir / "epoch_001.pt")["model"] for run_dir in ("constant", "linear")]
    assert all(torch.equal(first[0][name], first[1][name]) for name in first[0])  # steps 1-4: before the decay
    assert not all(torch.equal(a, b) for a, b in zip(constant.state_dict().values(), decayed.state_dict().values()))
    run(tmp_path / "resumed", lr_schedule="linear", lr_decay_fraction=0.5, max_steps=9)
    run(tmp_path / "resumed", net=tiny_net(seed=99), lr_schedule="linear", lr_decay_fraction=0.5)
    assert_same_weights(read_checkpoint(tmp_path / "linear" / "epoch_003.pt"), read_checkpoint(tmp_path / "resumed" / "epoch_003.pt"))


def test_training_on_crops_fits_a_1d_net_resumes_bitwise_and_refuses_2d_data(tmp_path):
    config = {"net": "unet1d", "channels": [8, 16], "embed_dim": 16, "sde": CONFIG["sde"]}
    waves = stripes(size=64)[:, :, 0, :]  # (32, 1, 64): one row of each stripe image

    def net():
        torch.manual_seed(0)
        return build_net("unet1d", [8, 16], embed_dim=16)

    def fit(directory, **overrides):
        return run(directory, net=net(), data=waves, config=config, crop_samples=16, **overrides)[0]

    straight = fit(tmp_path / "straight")
    fit(tmp_path / "resumed", max_steps=5)
    fit(tmp_path / "resumed")
    assert_same_weights(read_checkpoint(tmp_path / "straight" / "epoch_003.pt"), read_checkpoint(tmp_path / "resumed" / "epoch_003.pt"))
    whole = run(tmp_path / "whole", net=net(), data=waves, config=config)[0]
    assert not torch.equal(straight.head[-1].weight, whole.head[-1].weight)
    with pytest.raises(ValueError, match=r"crop_samples must be None or a length in \[1, L\] of 1-D data"):
        run(tmp_path / "image", crop_samples=8)


def test_epoch_order_depends_on_seed_and_epoch_only():
    assert torch.equal(epoch_order(50, seed=3, epoch=7), epoch_order(50, seed=3, epoch=7))
    assert sorted(epoch_order(50, 3, 7).tolist()) == list(range(50))
    assert not torch.equal(epoch_order(50, 3, 7), epoch_order(50, 3, 8))
    assert not torch.equal(epoch_order(50, 3, 7), epoch_order(50, 4, 7))


def test_ema_matches_the_hand_computed_average_of_two_steps(tmp_path):
    decay = 0.9
    net = tiny_net()
    initial = copy.deepcopy(net.state_dict())
    run(tmp_path, net=net, ema_decay=decay, max_steps=1)
    after_one = read_checkpoint(tmp_path / "last.pt")["model"]
    run(tmp_path, ema_decay=decay, max_steps=2)
    state = read_checkpoint(tmp_path / "last.pt")
    first, second = ema_decay_at(1, decay), ema_decay_at(2, decay)
    assert (first, second) == (2 / 11, 3 / 12)  # warm-up: below `decay` for the first steps
    assert ema_decay_at(10_000, decay) == decay
    for name, _ in tiny_net().named_parameters():
        expected = second * (first * initial[name] + (1 - first) * after_one[name]) + (1 - second) * state["model"][name]
        torch.testing.assert_close(state["ema"][name], expected, rtol=0, atol=1e-6)
        assert not torch.equal(state["ema"][name], state["model"][name])


def test_checkpoints_load_with_weights_only_and_rebuild_the_ema_net(tmp_path):
    run(tmp_path, epochs=[1])
    state = torch.load(tmp_path / "epoch_001.pt", weights_only=True)
    assert {"config", "model", "ema", "optimizer", "step", "epoch", "rng"} <= set(state)
    net, sde, _ = load_for_inference(tmp_path / "epoch_001.pt", device="cpu")
    assert isinstance(sde, TutorialVESDE) and sde.sigma == 25.0
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    assert all(torch.equal(net.state_dict()[k], state["ema"][k]) for k in state["ema"])


@pytest.mark.parametrize("damage", ["truncated", "random bytes"])
def test_damaged_checkpoint_is_a_value_error_naming_the_file(tmp_path, damage):
    run(tmp_path, epochs=[1])
    path = tmp_path / "epoch_001.pt"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2] if damage == "truncated" else torch.randint(0, 256, (4096,), dtype=torch.uint8).numpy().tobytes())
    with pytest.raises(ValueError, match="epoch_001.pt is unreadable"):
        load_for_inference(path)


def test_checkpoint_without_ema_is_a_value_error_naming_what_is_expected(tmp_path):
    path = tmp_path / "partial.pt"
    torch.save({"config": CONFIG}, path)
    with pytest.raises(ValueError, match=r"partial.pt lacks \['ema'\]"):
        load_for_inference(path)


def test_nan_loss_stops_training_at_its_step_and_keeps_the_last_good_checkpoint(tmp_path):
    run(tmp_path, epochs=[1])
    good = {name: (tmp_path / name).read_bytes() for name in ("epoch_001.pt", "last.pt")}
    with pytest.raises(TrainingDiverged, match=r"at step 5 \(epoch 2\)"):
        run(tmp_path, data=stripes() * 1e30, epochs=[1, 2])  # overflows in the net: the loss is inf
    assert {name: (tmp_path / name).read_bytes() for name in good} == good
    assert not (tmp_path / "epoch_002.pt").exists()
    load_for_inference(tmp_path / "epoch_001.pt")


def test_huge_learning_rate_diverges_at_the_second_step(tmp_path):
    with pytest.raises(TrainingDiverged, match="at step 2 "):
        run(tmp_path, lr=1e10)
    assert not (tmp_path / "last.pt").exists()


def test_bad_arguments_are_listed_together(tmp_path):
    with pytest.raises(ValueError, match=r"epochs must be .* got \[2, 1\].*batch_size must be .* got 64.*lr_schedule 'step'.*lr_decay_fraction .* got 0.*compile 'fast'"):
        run(tmp_path, epochs=[2, 1], batch_size=64, lr_schedule="step", lr_decay_fraction=0, compile="fast")
    data = stripes()
    data[3, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="data contains NaN"):
        run(tmp_path, data=data)


def test_resuming_with_another_config_is_refused(tmp_path):
    run(tmp_path, max_steps=2)
    other = {**CONFIG, "sde": {"name": "tutorial_ve", "sigma": 50.0}}
    with pytest.raises(ValueError, match="last.pt was written for config"):
        run(tmp_path, config=other)


def test_evaluate_loss_is_fixed_by_its_seed():
    net, sde, data = tiny_net(), make_sde(**CONFIG["sde"]), stripes()
    first = evaluate_loss(net, sde, data, batch_size=10, seed=5, loss=STUDY_LOSS)
    assert evaluate_loss(net, sde, data, batch_size=10, seed=5, loss=STUDY_LOSS) == first
    assert evaluate_loss(net, sde, data, batch_size=10, seed=6, loss=STUDY_LOSS) != first
    # the study weighting makes the loss of a net that predicts 0 exactly E||z||^2 = the dimension
    zero = tiny_net()
    torch.nn.init.zeros_(zero.head.weight)
    torch.nn.init.zeros_(zero.head.bias)
    assert evaluate_loss(zero, sde, stripes(256), batch_size=64, seed=0, loss=STUDY_LOSS) == pytest.approx(16 * 16, rel=0.02)
