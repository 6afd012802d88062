#!/bin/bash
# Run a preset's stages on a GPU machine without DVC, in dvc.yaml's order (render, preprocess, tensorize,
# train, sample, reference, evaluate), each as `python -m stages.X`; then sample and evaluate again with
# guidance 2 at noise levels 0.1-10 (variant B). Before: benchmarks/device/fetch.sh here, carry .devrun.
# There, from the repo root: OUT=dir bash benchmarks/device/run.sh [PRESET]   (default gpu-notes)
# It also prints the training loop's samples/s at the batch sizes in PROBE_BATCHES (default "128 256").
# $OUT gets log.txt, metrics.tar.gz (every metrics file) and the last checkpoint's samples (.tgz).
# The stages run in a copy of the code (WORK, default a new temporary folder): the checkout is left as it was.
set -u
PRESET=${1:-gpu-notes} POINT=
START=$(date +%s)
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
exec > >(tee -a "$OUT/log.txt") 2>&1
REPO=$PWD WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK/benchmarks" && cp -r sgm stages presets params.yaml "$WORK/" && cp -r benchmarks/device "$WORK/benchmarks/" || exit 1
cd "$WORK"
say() { echo "### [$(( $(date +%s) - START ))s] $*"; }

package() {  # the metrics; the last checkpoint's samples: B's tensors and WAVs, A's tensors
  say "packaging"
  tar czf "$OUT/metrics.tar.gz" --exclude='*.pt' --exclude='*.wav' --exclude='checkpoints' params*.yaml data/tensors/metrics.json results runs 2>/dev/null
  for variant in A B; do
    for d in runs/"$POINT"/samples_$variant/$(ls runs/"$POINT"/samples_$variant 2>/dev/null | sort | tail -1)/*/; do
      [ -f "$d/samples.pt" ] || continue
      what=$([ $variant = B ] && echo . || echo samples.pt)
      tar czf "$OUT/samples_${variant}_$(basename "$d").tgz" -C "$d" "$what"
    done
  done
}
trap package EXIT

edit() {  # python statements on `p`, the params (ruamel round trip, as the stages read them)
  python3 - "$@" <<'PY'
import sys
from ruamel.yaml import YAML
yaml = YAML(); p = yaml.load(open("params.yaml"))
for statement in sys.argv[1:]:
    exec(statement)
yaml.dump(p, open("params.yaml", "w"))
PY
}
train() { python3 benchmarks/device/train_without_dvc.py "$POINT" 2>&1 | grep -v "^train@" | tail -3; }

say "install"
if [ -d "$REPO/.devrun/whl" ]; then  # the carried wheels
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$WORK/site" "$REPO"/.devrun/whl/*.whl || exit 1
fi
export PYTHONPATH=$WORK/site:$REPO/.devrun/tc:$WORK
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -m stages.preset "$PRESET" --write params_A.yaml && cp params_A.yaml params.yaml || exit 1
POINT=$(python3 -c "from stages.common.params import load_params; print(next(iter(load_params().grid)))")

say "data"
python3 -m stages.render && python3 -m stages.preprocess && python3 -m stages.tensorize || exit 1

for batch in ${PROBE_BATCHES-128 256}; do  # 46 steps of the real data, the samples/s after the first 10
  say "probe batch $batch"
  edit "p['train'].update(epochs=[1], batch_size=$batch, max_examples=46*$batch, test_examples=64, log_every=10)"
  rm -rf runs/"$POINT"; train
  python3 -c "import csv, statistics
rows = list(csv.DictReader(open('runs/$POINT/train/live/plots/metrics/samples_per_second.tsv'), delimiter='\t'))
print('samples/s at batch $batch:', statistics.median(float(r['samples_per_second']) for r in rows[1:]))"
  cp params_A.yaml params.yaml
done

say "train $POINT"
rm -rf runs/"$POINT"; train
cat runs/"$POINT"/train/metrics.json || exit 1
for variant in A B; do
  if [ $variant = B ]; then edit "p['sample'].update(guidance=2.0, guidance_interval=[0.1, 10.0])"; cp params.yaml params_B.yaml; fi
  say "sample $variant"
  python3 -m stages.sample "$POINT" 2>&1 | grep -v "^sample@" | tail -3
  [ $variant = A ] && { say "reference"; python3 -m stages.reference 2>&1 | tail -3; }
  say "evaluate $variant"
  python3 -m stages.evaluate "$POINT" 2>&1 | tail -3
  mv runs/"$POINT"/samples runs/"$POINT"/samples_$variant
  mv runs/"$POINT"/sampling.json runs/"$POINT"/sampling_$variant.json
  cp -r runs/"$POINT"/eval runs/"$POINT"/eval_$variant
  cat runs/"$POINT"/eval_$variant/metrics.json
done
say "done"
