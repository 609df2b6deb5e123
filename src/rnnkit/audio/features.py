"""Log-mel spectrograms and MFCCs in NumPy, with librosa's definitions (its defaults where they apply).

- ``power_spectrogram``: the short-time Fourier transform with a periodic Hann window of ``win_length`` centred
  in ``n_fft``, frames every ``hop_length`` samples, the signal zero-padded by ``n_fft // 2`` on both sides when
  ``center``; ``|STFT|**2`` of shape ``(1 + n_fft // 2, frames)``.
- ``mel_filterbank``: triangular filters on the Slaney mel scale with Slaney area normalisation
  (``librosa.filters.mel`` with ``htk=False, norm="slaney"``).
- ``power_to_db``: ``10 log10(max(S, amin)) - 10 log10(max(ref, amin))``, clipped at ``top_db`` below the peak.
- ``mfcc``: the orthonormal DCT-II of the log-mel spectrogram, first ``n_mfcc`` coefficients.

Arrays follow librosa: features are ``(n_mels or n_mfcc, frames)``; ``FeatureConfig.compute`` returns the
transposed ``(frames, features)`` that recurrent layers read.

>>> import numpy as np
>>> tone = np.sin(2 * np.pi * 440 * np.arange(8000) / 8000).astype(np.float32)  # 1 s at 8 kHz
>>> melspectrogram(tone, sr=8000, n_fft=256, hop_length=80, n_mels=40).shape
(40, 101)
>>> mfcc(tone, sr=8000, n_fft=256, hop_length=80, n_mels=40, n_mfcc=13).shape
(13, 101)
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field

import numpy as np

from rnnkit.errors import ConfigError, DataError

# Slaney mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz):
    """Slaney mel of frequencies ``hz`` (``librosa.hz_to_mel(htk=False)``)."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _F_SP
    logarithmic = _MIN_LOG_MEL + np.log(np.maximum(hz, 1e-300) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(hz >= _MIN_LOG_HZ, logarithmic, linear)


def mel_to_hz(mel):
    """Inverse of ``hz_to_mel``."""
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOG_STEP * (mel - _MIN_LOG_MEL)), _F_SP * mel)


@functools.lru_cache(maxsize=64)
def mel_filterbank(sr: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None,
                   warp: float = 1.0) -> np.ndarray:
    """``(n_mels, 1 + n_fft // 2)`` float64 triangular filters (Slaney scale and area normalisation).

    ``warp`` scales the filters' frequencies (vocal tract length perturbation: 0.9-1.1 mimics shorter or longer
    vocal tracts); 1.0 is librosa's filterbank. The result is cached and read-only.
    """
    fmax = sr / 2.0 if fmax is None else float(fmax)
    bins = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)  # FFT bin frequencies
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))  # (n_mels + 2,)
    edges = edges * warp
    widths = np.diff(edges)  # (n_mels + 1,)
    ramps = edges[:, None] - bins[None, :]  # (n_mels + 2, bins)
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))  # (n_mels, bins)
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]  # Slaney: each filter has unit area
    weights.setflags(write=False)
    return weights


@functools.lru_cache(maxsize=8)
def _window(n_fft: int, win_length: int) -> np.ndarray:
    """A periodic Hann window of ``win_length`` zero-padded to ``n_fft``, centred (librosa's ``pad_center``)."""
    n = np.arange(win_length)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / win_length)
    left = (n_fft - win_length) // 2
    padded = np.zeros(n_fft)
    padded[left:left + win_length] = window
    padded.setflags(write=False)
    return padded


def power_spectrogram(y, n_fft: int = 2048, hop_length: int | None = None, win_length: int | None = None,
                      center: bool = True) -> np.ndarray:
    """``|STFT(y)|**2`` as float64, shape ``(1 + n_fft // 2, frames)``."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise DataError(f"expected a mono signal of shape (samples,); got shape {y.shape}")
    win_length = n_fft if win_length is None else int(win_length)
    hop_length = win_length // 4 if hop_length is None else int(hop_length)
    if not 0 < win_length <= n_fft or hop_length < 1:
        raise ConfigError(f"need 0 < win_length <= n_fft and hop_length >= 1; got win_length={win_length}, "
                          f"n_fft={n_fft}, hop_length={hop_length}")
    if center:
        y = np.pad(y, n_fft // 2)
    if len(y) < n_fft:
        raise DataError(f"a signal of {len(y)} samples is shorter than n_fft={n_fft}")
    frames = 1 + (len(y) - n_fft) // hop_length
    strided = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop_length][:frames]  # (frames, n_fft)
    spectrum = np.fft.rfft(strided * _window(n_fft, win_length), axis=1)  # (frames, bins)
    return (spectrum.real ** 2 + spectrum.imag ** 2).T  # (bins, frames)


def melspectrogram(y=None, sr: int = 22050, S=None, n_fft: int = 2048, hop_length: int = 512,
                   win_length: int | None = None, center: bool = True, n_mels: int = 128, fmin: float = 0.0,
                   fmax: float | None = None, warp: float = 1.0) -> np.ndarray:
    """Mel power spectrogram ``(n_mels, frames)`` of ``y`` (or of the power spectrogram ``S``), as
    ``librosa.feature.melspectrogram`` with ``power=2``."""
    if S is None:
        S = power_spectrogram(y, n_fft, hop_length, win_length, center)
    return mel_filterbank(int(sr), int(n_fft), int(n_mels), float(fmin), fmax, float(warp)) @ S


def power_to_db(S, ref: float = 1.0, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    """Decibels of the power ``S`` as ``librosa.power_to_db`` (``ref`` a number)."""
    S = np.asarray(S)
    log_spec = 10.0 * np.log10(np.maximum(amin, S)) - 10.0 * np.log10(max(amin, ref))
    if top_db is not None:
        log_spec = np.maximum(log_spec, log_spec.max() - top_db)
    return log_spec


@functools.lru_cache(maxsize=8)
def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """``(n_out, n_in)`` orthonormal DCT-II matrix (``scipy.fft.dct(norm="ortho")``, first ``n_out`` rows)."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    basis[0] /= np.sqrt(2.0)
    basis.setflags(write=False)
    return basis


def mfcc(y=None, sr: int = 22050, S=None, n_mfcc: int = 20, top_db: float | None = 80.0, **mel_kwargs) -> np.ndarray:
    """MFCCs ``(n_mfcc, frames)`` as ``librosa.feature.mfcc`` (DCT type 2, ortho, no liftering): ``S`` is a
    log-mel spectrogram if given, else one is made from ``y`` with ``mel_kwargs``."""
    if S is None:
        S = power_to_db(melspectrogram(y, sr=sr, **mel_kwargs), top_db=top_db)
    return dct_matrix(int(n_mfcc), S.shape[0]) @ S


@dataclass
class FeatureConfig:
    """The feature settings of a model, stored with it so that inference computes the same features.

    >>> config = FeatureConfig(kind="mfcc", n_mfcc=13)
    >>> config.compute(np.zeros(800, dtype=np.float32), 8000).shape  # 0.1 s -> (frames, 13)
    (11, 13)
    >>> FeatureConfig.from_dict(config.to_dict()) == config
    True
    """

    kind: str = field(default="mfcc", metadata={"help": "mfcc or logmel"})
    sr: int = 8000
    n_fft: int = 256
    hop_length: int = 80  # 10 ms at 8 kHz
    win_length: int = 200  # 25 ms at 8 kHz
    n_mels: int = 40
    n_mfcc: int = 20
    fmin: float = 20.0
    fmax: float | None = None
    center: bool = True

    def validate(self) -> None:
        if self.kind not in ("mfcc", "logmel"):
            raise ConfigError(f"features must be 'mfcc' or 'logmel'; got {self.kind!r}")
        for name in ("sr", "n_fft", "hop_length", "win_length", "n_mels", "n_mfcc"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be positive; got {getattr(self, name)}")
        if self.win_length > self.n_fft:
            raise ConfigError(f"win_length ({self.win_length}) cannot exceed n_fft ({self.n_fft})")
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise ConfigError(f"n_mfcc ({self.n_mfcc}) cannot exceed n_mels ({self.n_mels})")
        top = self.sr / 2 if self.fmax is None else self.fmax
        if not 0 <= self.fmin < top <= self.sr / 2:
            raise ConfigError(f"need 0 <= fmin < fmax <= sr/2; got fmin={self.fmin}, fmax={self.fmax}, sr={self.sr}")

    @property
    def size(self) -> int:
        """Features per frame."""
        return self.n_mfcc if self.kind == "mfcc" else self.n_mels

    def power(self, y) -> np.ndarray:
        """The power spectrogram ``(bins, frames)`` these settings start from."""
        return power_spectrogram(y, self.n_fft, self.hop_length, self.win_length, self.center)

    def from_power(self, S, warp: float = 1.0) -> np.ndarray:
        """Features ``(frames, size)`` float32 of a power spectrogram (``warp``: see ``mel_filterbank``)."""
        mel = melspectrogram(S=S, sr=self.sr, n_fft=self.n_fft, n_mels=self.n_mels, fmin=self.fmin,
                             fmax=self.fmax, warp=warp)
        log_mel = power_to_db(mel)
        out = log_mel if self.kind == "logmel" else mfcc(S=log_mel, n_mfcc=self.n_mfcc)
        return out.T.astype(np.float32)  # (frames, size)

    def compute(self, y, sr: int | None = None) -> np.ndarray:
        """Features ``(frames, size)`` float32 of the signal ``y`` sampled at ``sr`` (checked)."""
        if sr is not None and int(sr) != self.sr:
            raise DataError(f"the audio is sampled at {sr} Hz; these features expect {self.sr} Hz")
        return self.from_power(self.power(y))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "FeatureConfig":
        names = set(cls.__dataclass_fields__)
        if not isinstance(values, dict) or set(values) - names:
            raise DataError(f"feature settings {values!r} do not fit FeatureConfig (fields {sorted(names)})")
        return cls(**values)
