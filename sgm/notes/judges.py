"""The instrument judges: two classifiers fitted on the training split, to check samples against requests.

A conditional model's samples.pt records its requests ("requested": {kind: one value per sample});
requested instruments are checked by two judges reading different evidence, requested pitches by
CREPE in the audio metrics. `instrument_accuracy` reads the whole log-mel spectrum
(sgm.notes.timbre_classifier); `instrument_accuracy_partials` reads the harmonics of the requested
pitch alone (sgm.notes.partials), so noise between the partials barely moves it; it needs the
pitch of every clip it is fitted on and the requested pitch of every sample it judges. The
reference stage scores the held-out clips with both: the best a model can do, and how each judge
holds up on held-out clips with noise added (10x and 30x their in-band flatness) and shifted two
semitones up and down. The classifiers are fitted on first use only, so runs without instruments
pay nothing.
"""

from __future__ import annotations

import functools

import librosa
import numpy as np
import torch

from sgm.kinds.kind import DataError, DataSet, sample_requests
from sgm.kinds.naming import instrument_names
from sgm.notes.metrics import spectral_flatness
from sgm.notes.partials import partial_features
from sgm.notes.timbre_classifier import InstrumentClassifier, timbre_features

JUDGES = ("instrument_accuracy", "instrument_accuracy_partials")  # the whole spectrum; the partials only
NOISE_FLOORS = (10, 30)  # the held-out clips' in-band flatness times this, for the judges' robustness
SHIFTS = (2, -2)  # semitones


class InstrumentJudge:
    """The instrument classifiers of one data set, fitted lazily on its training clips of known instrument."""

    def __init__(self, data: DataSet, band_hz: float | None = None):
        self.data, self.band_hz = data, band_hz
        self.names = instrument_names(data.label_names)

    def labels(self, programs: torch.Tensor) -> np.ndarray:
        """Instrument names of program codes, as conditional models name them (sgm.kinds.naming)."""
        return np.array([self.names(p) for p in programs.tolist()])

    @functools.cached_property
    def classifiers(self) -> dict[str, InstrumentClassifier]:
        """The judges that apply: the partials judge only when every clip of known instrument has a known pitch."""
        train = self.data.train
        known = train["program"] >= 0
        audio, labels, rate = self.data.layout.to_audio(train["x"][known]), self.labels(train["program"][known]), self.data.layout.sample_rate
        evidence = {JUDGES[0]: timbre_features}
        if self.pitched():
            evidence[JUDGES[1]] = functools.partial(partial_features, band_hz=self.band_hz)
        return {name: InstrumentClassifier.fit(audio, labels, rate, features, train["pitch"][known]) for name, features in evidence.items()}

    def applies(self) -> bool:
        """Whether the data name two or more instruments."""
        return len(set(self.data.train["program"].tolist()) - {-1}) >= 2

    def pitched(self) -> bool:
        """Whether every clip of known instrument, in both splits, has a known pitch (the partials judge needs it)."""
        return all(bool((split["pitch"][split["program"] >= 0] >= 0).all()) for split in (self.data.train, self.data.test))

    def verdicts(self, audio: torch.Tensor, pitches=None) -> dict[str, np.ndarray]:
        """Each judge's instrument for every clip (N, L); the partials judge only given the MIDI pitches (N,)."""
        judges = [name for name in self.classifiers if pitches is not None or name != JUDGES[1]]
        return {name: self.classifiers[name].predict(audio, pitches) for name in judges}

    def accuracies(self, audio: torch.Tensor, instruments, pitches=None) -> dict[str, float]:
        """Each judge's share of clips recognised as `instruments`."""
        return shares(self.verdicts(audio, pitches), instruments)

    def heldout_accuracy(self) -> dict[str, float]:
        """Both judges' accuracy on the held-out clips of known instrument, where there are instruments to tell apart."""
        if not self.applies():
            return {}
        audio, instruments, pitches = self.heldout()
        return self.accuracies(audio, instruments, pitches)

    def heldout(self) -> tuple[torch.Tensor, np.ndarray, torch.Tensor]:
        """The held-out clips of known instrument: (audio, instrument names, MIDI pitches)."""
        test = self.data.test
        known = test["program"] >= 0
        return self.data.layout.to_audio(test["x"][known]), self.labels(test["program"][known]), test["pitch"][known]

    def robustness(self, seed: int) -> dict[str, dict[str, float]]:
        """Both judges on the held-out clips with noise at NOISE_FLOORS times their in-band flatness, and shifted by SHIFTS semitones."""
        if not self.applies():
            return {}
        audio, instruments, pitches = self.heldout()
        rate = self.data.layout.sample_rate
        generator = torch.Generator().manual_seed(seed)
        found = {f"noise_{ratio}x": self.accuracies(with_noise_floor(audio, ratio, rate, self.band_hz, generator), instruments, pitches) for ratio in NOISE_FLOORS}
        for steps in SHIFTS:
            shifted = torch.from_numpy(librosa.effects.pitch_shift(audio.numpy(), sr=rate, n_steps=steps)).float()
            found[f"shifted_{steps:+d}"] = self.accuracies(shifted, instruments, pitches + steps)
        return found

    def requested_verdicts(self, record: dict, source) -> dict[str, np.ndarray]:
        """Each judge's instrument for every sample of a samples.pt `record`, when instruments were asked for ({} otherwise)."""
        requested = sample_requests(record, source)
        if "instrument" not in requested:
            return {}
        known = next(iter(self.classifiers.values())).instruments
        unknown = sorted(set(requested["instrument"]) - set(known))
        if unknown:
            raise DataError(f"{source}: requested instrument(s) {unknown} are not among the {len(known)} the judges know")
        pitches = requested.get("pitch")
        try:
            return self.verdicts(record["audio"], None if pitches is None else torch.tensor(pitches))
        except ValueError as err:
            raise DataError(f"{source}: {err}") from None


def shares(verdicts: dict[str, np.ndarray], instruments) -> dict[str, float]:
    """Each judge's share of verdicts that name `instruments` (one per clip)."""
    instruments = np.asarray(instruments)
    return {name: float((said == instruments).mean()) for name, said in verdicts.items()}


def with_noise_floor(audio: torch.Tensor, ratio: float, sample_rate: int, band_hz: float | None, generator: torch.Generator) -> torch.Tensor:
    """`audio` plus white noise scaled (by bisection in log scale) so its in-band flatness is `ratio` times the clean clips'."""
    target = ratio * spectral_flatness(audio, sample_rate, band_hz)
    noise = torch.randn(audio.shape, generator=generator)
    low, high = -8.0, 1.0  # log10 of the noise std against the clips' std
    scale = float(audio.std())
    for _ in range(30):
        middle = (low + high) / 2
        if spectral_flatness(audio + scale * 10**middle * noise, sample_rate, band_hz) < target:
            low = middle
        else:
            high = middle
    return audio + scale * 10 ** ((low + high) / 2) * noise
