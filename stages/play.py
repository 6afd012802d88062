"""Listening examples from one grid point's last checkpoint: python -m stages.play.

Writes play/ (WAVs, a spectrogram PNG for each, melody.mid and index.json for the report) and
results/play.json (NFE and seconds of each example, and the pitch metrics of the scale): a scale, a
continuation, a variation, an interpolation and a melody (sgm.generation.examples). Data that are
not single-note clips (images, melodies) get no examples.
"""

from __future__ import annotations

from sgm.generation.examples import play
from sgm.generation.session import Session
from stages.common.outputs import StageError, atomic_dir, run_stage, write_json
from stages.common.params import load_params
from stages.common.paths import PLAY_DIR, PLAY_METRICS_FILE, checkpoint_file, read_layout, read_split, train_dir


def main() -> None:
    params = load_params()
    epoch = params.train.epochs[-1]
    layout = read_layout(params.kind)
    with atomic_dir(PLAY_DIR) as out:
        if layout.holds_waveforms:
            try:
                session = Session(checkpoint_file(train_dir(params.play.point), epoch), layout, params.seed)
                items, metrics = play(session, params, read_split("test"), out)
            except ValueError as err:
                raise StageError(f"play: {err}") from None
        else:
            items = [{"title": "Play", "text": f"no examples: layout {layout.name!r} does not hold single-note clips", "clips": [], "figures": [], "downloads": []}]
            metrics = {}
        index = {"point": params.play.point, "epoch": epoch, "items": items}
        write_json(out / "index.json", index)
        write_json(PLAY_METRICS_FILE, metrics)


if __name__ == "__main__":
    run_stage(main)
