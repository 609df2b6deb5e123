"""Data of the speech task: the Free Spoken Digit Dataset's recordings, its splits, and features computed once.

File names are ``{digit}_{speaker}_{index}.wav``. The standard split tests on index 0-4 of every speaker and
digit; ``test_speakers`` holds out whole speakers instead (every recording of a test speaker is in the test
set, none of them in training). ``FeatureBank`` reads each file once, keeps its power spectrogram, and gives
clean features (for evaluation and inference) or freshly augmented ones (for each training epoch).

>>> import os, tempfile
>>> import numpy as np
>>> from rnnkit.audio import write_wav
>>> folder = tempfile.mkdtemp()
>>> for name in ("3_ann_0.wav", "3_ann_7.wav", "5_bob_2.wav"):
...     write_wav(os.path.join(folder, name), np.zeros(800), 8000)
>>> recordings = list_recordings(folder)
>>> [(r.digit, r.speaker, r.index) for r in recordings]
[(3, 'ann', 0), (3, 'ann', 7), (5, 'bob', 2)]
>>> train, test = split_recordings(recordings)
>>> [r.index for r in train], [r.index for r in test]
([7], [0, 2])
>>> train, test = split_recordings(recordings, test_speakers=["bob"])
>>> [r.speaker for r in train], [r.speaker for r in test]
(['ann', 'ann'], ['bob'])
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from rnnkit.audio import AugmentConfig, FeatureConfig, Standardizer, augment, normalize_utterance, read_wav
from rnnkit.errors import ConfigError, DataError

NAME = re.compile(r"^(\d)_([A-Za-z0-9-]+)_(\d+)\.wav$")
STANDARD_TEST_INDICES = 5  # index 0-4 of each speaker and digit: the data set's own test split


@dataclass(frozen=True)
class Recording:
    path: str
    digit: int
    speaker: str
    index: int


def recordings_folder(data: str) -> str:
    """``data`` itself or its ``recordings`` folder, whichever holds the WAV files."""
    if not os.path.isdir(data):
        raise DataError(f"--data {data} is not a folder; expected the FSDD folder (with recordings/*.wav)")
    inner = os.path.join(data, "recordings")
    return inner if os.path.isdir(inner) else data


def list_recordings(data: str, limit: int | None = None) -> list:
    """The recordings in ``data`` sorted by speaker, digit and index; with ``limit`` only index < limit."""
    folder = recordings_folder(data)
    found = []
    for name in sorted(os.listdir(folder)):
        match = NAME.match(name)
        if match and (limit is None or int(match.group(3)) < limit):
            found.append(Recording(os.path.join(folder, name), int(match.group(1)), match.group(2),
                                   int(match.group(3))))
    if not found:
        raise DataError(f"no recordings named {{digit}}_{{speaker}}_{{index}}.wav in {folder}")
    return sorted(found, key=lambda r: (r.speaker, r.digit, r.index))


def split_recordings(recordings: list, test_speakers=()) -> tuple:
    """``(train, test)``: whole ``test_speakers`` held out, or (none given) the standard split by index."""
    test_speakers = [s for s in test_speakers if s]
    if not test_speakers:
        test = [r for r in recordings if r.index < STANDARD_TEST_INDICES]
        train = [r for r in recordings if r.index >= STANDARD_TEST_INDICES]
    else:
        speakers = sorted({r.speaker for r in recordings})
        unknown = [s for s in test_speakers if s not in speakers]
        if unknown:
            raise ConfigError(f"--test-speakers {','.join(unknown)}: no such speaker in the data; the speakers are "
                              f"{', '.join(speakers)}")
        test = [r for r in recordings if r.speaker in test_speakers]
        train = [r for r in recordings if r.speaker not in test_speakers]
    if not train or not test:
        raise DataError(f"the split leaves {len(train)} training and {len(test)} test recordings; both must be "
                        "non-empty")
    return train, test


class FeatureBank:
    """Power spectrograms of recordings (each file read once) and the features made from them.

    ``normalize`` is "utterance" (each utterance to zero mean, unit variance per feature) or "dataset"
    (statistics of the clean training features, set by ``fit_normalizer``).
    """

    def __init__(self, config: FeatureConfig, normalize: str = "utterance"):
        if normalize not in ("utterance", "dataset"):
            raise ConfigError(f"normalize must be 'utterance' or 'dataset'; got {normalize!r}")
        self.config = config
        self.normalize = normalize
        self.scaler: Standardizer | None = None
        self._power: dict = {}

    def power(self, path: str) -> np.ndarray:
        if path not in self._power:
            samples, rate = read_wav(path)
            if rate != self.config.sr:
                raise DataError(f"{path} is sampled at {rate} Hz; the features expect {self.config.sr} Hz")
            self._power[path] = self.config.power(samples).astype(np.float32)
        return self._power[path]

    def signal_power(self, path: str, samples: np.ndarray) -> np.ndarray:
        """Remember the power spectrogram of a made-up signal under the key ``path``."""
        self._power[path] = self.config.power(samples).astype(np.float32)
        return self._power[path]

    def fit_normalizer(self, paths) -> None:
        if self.normalize == "dataset":
            self.scaler = Standardizer().fit(self.config.from_power(self.power(p)) for p in paths)

    def finish(self, features: np.ndarray) -> np.ndarray:
        if self.normalize == "utterance":
            return normalize_utterance(features)
        if self.scaler is None:
            raise DataError("dataset normalisation needs fit_normalizer() on the training data first")
        return self.scaler.transform(features)

    def clean(self, path: str) -> np.ndarray:
        """Normalised features ``(frames, size)`` without augmentation."""
        return self.finish(self.config.from_power(self.power(path)))

    def augmented(self, path: str, rng: np.random.Generator, settings: AugmentConfig | None = None) -> np.ndarray:
        return self.finish(augment(self.power(path), self.config, rng, settings))

    def normalizer_info(self) -> dict:
        return {"normalize": self.normalize, "statistics": None if self.scaler is None else self.scaler.to_dict()}
