"""Data augmentation of speech features, on the power spectrogram each utterance's features start from.

Three standard, label-preserving perturbations, cheap enough to draw afresh every epoch from spectrograms
computed once:

- vocal tract length perturbation (VTLP, Jaitly & Hinton 2013): the mel filters' frequencies scaled by a
  factor in ``warp_range``, mimicking speakers with shorter or longer vocal tracts;
- additive white noise at a random signal-to-noise ratio in ``snr_db`` (the noise's periodogram, exponentially
  distributed per bin and frame, added to the power spectrogram);
- SpecAugment-style masks (Park et al. 2019): one band of up to ``freq_mask`` mel channels and one span of up
  to ``time_mask`` of the frames set to the utterance's mean log-mel value.

>>> import numpy as np
>>> from rnnkit.audio import FeatureConfig
>>> config = FeatureConfig(kind="mfcc", n_mfcc=13)
>>> power = config.power(np.random.default_rng(0).normal(size=4000).astype(np.float32))
>>> augment(power, config, np.random.default_rng(1)).shape  # (frames, n_mfcc)
(51, 13)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.audio.features import dct_matrix, mel_filterbank, power_to_db


@dataclass
class AugmentConfig:
    """Strengths of the perturbations (0 or equal bounds switch one off)."""

    warp_range: tuple = (0.9, 1.1)
    snr_db: tuple = (10.0, 40.0)
    freq_mask: int = 6  # mel channels, at most
    time_mask: float = 0.1  # fraction of the frames, at most


def augment(power: np.ndarray, config, rng: np.random.Generator, settings: AugmentConfig | None = None) -> np.ndarray:
    """Features ``(frames, size)`` float32 of the power spectrogram ``power (bins, frames)`` under random
    perturbations; ``config`` is the ``FeatureConfig`` (``kind``, mel settings) of the clean features."""
    settings = settings or AugmentConfig()
    low, high = settings.warp_range
    warp = round(float(rng.uniform(low, high)), 2) if high > low else float(low)  # a grid: filterbanks cached
    S = power
    if settings.snr_db[1] > 0:
        snr = rng.uniform(*settings.snr_db)
        noise = S.mean() * 10.0 ** (-snr / 10.0)
        S = S + noise * rng.exponential(size=S.shape)
    bank = mel_filterbank(int(config.sr), int(config.n_fft), int(config.n_mels), float(config.fmin), config.fmax, warp)
    log_mel = power_to_db(bank @ S)  # (n_mels, frames)
    n_mels, frames = log_mel.shape
    fill = log_mel.mean()
    if settings.freq_mask > 0:
        width = int(rng.integers(0, settings.freq_mask + 1))
        start = int(rng.integers(0, n_mels - width + 1))
        log_mel[start:start + width] = fill
    span = int(settings.time_mask * frames)
    if span > 0:
        width = int(rng.integers(0, span + 1))
        start = int(rng.integers(0, frames - width + 1))
        log_mel[:, start:start + width] = fill
    out = log_mel if config.kind == "logmel" else dct_matrix(int(config.n_mfcc), n_mels) @ log_mel
    return out.T.astype(np.float32)  # (frames, size)
