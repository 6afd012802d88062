"""Score what every model is judged against: python -m stages.reference.

The kind of data (sgm.kinds) scores the held-out real data, the best a model can do, and a noise
floor: for notes, held-out clips (with the instrument judge's accuracy on them) and noise shaped to
the training set's mean spectrum, the study's failure mode; for melodies, random segments and
random notes; for images, the digit judge on held-out digits. Writes results/reference/metrics.json.
"""

from __future__ import annotations

from sgm.kinds import data_kind
from stages.common.outputs import run_stage, write_json
from stages.common.params import load_params
from stages.common.paths import REFERENCE_FILE, read_dataset


def main() -> None:
    params = load_params()
    write_json(REFERENCE_FILE, data_kind(params.kind).reference(params, read_dataset(params.kind)))


if __name__ == "__main__":
    run_stage(main)
