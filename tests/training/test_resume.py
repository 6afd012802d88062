import json

import torch

from sgm.training.resume import FINGERPRINT_FILE, drop_log_rows_after, resume_point

SAVED = {
    "params": {"seed": 0, "train": {"batch_size": 32}, "grid_point": {"arch": "a", "lr": 1e-3}, "arch": {"channels": [8, 16]}},
    "data": {"data/tensors/train.pt": "1" * 64},
    "code": {"sgm/train.py": "2" * 64, "stages/train.py": "3" * 64},
}


def partial_with(tmp_path, fingerprint, step=6, epoch=1):
    partial = tmp_path / ".train.partial"
    (partial / "checkpoints").mkdir(parents=True)
    (partial / FINGERPRINT_FILE).write_text(json.dumps(fingerprint))
    torch.save({"step": step, "epoch": epoch}, partial / "checkpoints" / "last.pt")
    return partial


def test_an_unchanged_run_resumes_from_its_saved_step(tmp_path):
    partial = partial_with(tmp_path, SAVED)
    assert resume_point(partial, SAVED) == (6, f"resuming {partial} from step 6 (epoch 2): params, data and code are unchanged")


def test_changed_code_and_data_start_afresh_naming_the_files(tmp_path):
    partial = partial_with(tmp_path, SAVED)
    now = json.loads(json.dumps(SAVED))
    now["code"]["sgm/train.py"] = "4" * 64
    now["data"]["data/tensors/train.pt"] = "5" * 64
    now["params"]["train"]["batch_size"] = 16
    step, account = resume_point(partial, now)
    assert step is None
    assert account == (
        f"starting afresh, not resuming {partial}: changed since it was saved: code.sgm/train.py; "
        "data.data/tensors/train.pt; params.train.batch_size 32 -> 16"
    )


def test_nothing_to_resume_says_nothing_and_a_run_killed_before_its_first_save_says_so(tmp_path):
    assert resume_point(tmp_path / "absent", SAVED) == (None, "")
    partial = partial_with(tmp_path, SAVED)
    (partial / "checkpoints" / "last.pt").unlink()
    assert resume_point(partial, SAVED) == (None, f"starting afresh: {partial} holds no saved state (killed before its first save)")


def test_log_rows_after_the_resumed_step_are_dropped(tmp_path):
    table = tmp_path / "plots" / "metrics" / "train_loss.tsv"
    table.parent.mkdir(parents=True)
    table.write_text("timestamp\tstep\ttrain_loss\n1\t10\t0.5\n2\t20\t0.4\n3\t30\t0.3\n")
    drop_log_rows_after(tmp_path, 20)
    assert table.read_bytes().decode() == "timestamp\tstep\ttrain_loss\n1\t10\t0.5\n2\t20\t0.4\n"
