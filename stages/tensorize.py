"""Turn the clean data into model tensors, split by note: python -m stages.tensorize.

Reads data/clean through the kind of data (sgm.kinds) and writes data/tensors/{train.pt, test.pt,
layout.json, label_names.json, metrics.json}. The layout's scale is fitted on the training split
only, so nothing about the test clips leaks into the model's units. Audio layouts also record the
band the preprocess low-pass left (`band_hz`, where it reaches -60 dB), so that audio made from
model tensors is limited to the same band.
"""

from __future__ import annotations

import dataclasses
import time

import torch

from sgm.core.sde import max_pairwise_distance
from sgm.kinds import data_kind
from sgm.kinds.splits import split_by_group
from stages.common.outputs import StageError, atomic_dir, run_stage, write_json
from stages.common.params import load_params
from stages.common.paths import CLEAN_DIR, LABEL_NAMES_FILE, LAYOUT_FILE, TENSORS_DIR, TENSORS_METRICS_FILE


def main() -> None:
    params = load_params()
    settings = params.tensorize
    started = time.perf_counter()
    kind = data_kind(params.kind)
    clean = kind.read_clean(params, CLEAN_DIR)
    layout = kind.layout(params, clean, CLEAN_DIR)
    try:
        train_idx, test_idx = split_by_group(clean.labels["note_id"].numpy(), settings.test_fraction, settings.split_seed)
        layout = layout.fit_scale(clean.data[train_idx], settings.target_std)
    except ValueError as err:
        raise StageError(f"cannot tensorize {CLEAN_DIR}: {err}") from None

    metrics = {"train": len(train_idx), "test": len(test_idx), "scale": layout.scale, "layout": layout.name}
    roundtrip_errors = []
    with atomic_dir(TENSORS_DIR) as out:
        for split, idx in (("train", train_idx), ("test", test_idx)):
            x = layout.to_model(clean.data[idx]).float()
            if split == "train":
                metrics["max_pairwise_distance"] = max_pairwise_distance(x)
            if layout.measures_roundtrip:
                exact = dataclasses.replace(layout, band_hz=None)
                roundtrip_errors.append((exact.to_audio(x) - clean.data[idx]).abs().max().item())
            torch.save({"x": x, **{name: values[idx] for name, values in clean.labels.items()}}, out / f"{split}.pt")
        if roundtrip_errors:
            metrics[f"{layout.name}_roundtrip_max_error"] = max(roundtrip_errors)
        write_json(out / LAYOUT_FILE.name, layout.to_dict())
        write_json(out / LABEL_NAMES_FILE.name, clean.label_names)
        write_json(out / TENSORS_METRICS_FILE.name, metrics)
    print(f"tensorize: {metrics} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    run_stage(main)
