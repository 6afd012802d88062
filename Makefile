# Two commands do all the set-up on a fresh machine (Python 3.11, no GPU):
#   make repro   install, then run the whole pipeline (dvc repro) on the default params
#   make test    install (with the test extras, Chromium and FluidSynth), then run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install repro test players

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# tinysoundfont's metadata asks for pyaudio (only used for live playback), which cannot build here
	$(BIN)/pip install --quiet --no-deps 'tinysoundfont==0.3.7'
	touch $@

repro: install
	PATH="$(CURDIR)/$(BIN):$$PATH" DVC_NO_ANALYTICS=1 dvc repro

# the real players the tests drive: Chromium for the report, FluidSynth for exported SoundFonts
players:
	command -v chromium >/dev/null && command -v fluidsynth >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium fluidsynth)

test: install players
	$(BIN)/ruff check sgm stages tests benchmarks
	$(BIN)/python -m pytest
