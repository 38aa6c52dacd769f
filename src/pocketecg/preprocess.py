"""Preprocessing: one implementation, used by `prepare` (training), evaluation and prediction.

Order: remove each lead's mean -> resample to `fs` -> zero-phase Butterworth band-pass -> per-lead z-score over the whole
record -> fixed-length windows.

Window rule (documented in docs/preprocessing.md):
- a record shorter than the window is zero-padded at the end (after normalisation, so the pad is
  the lead's mean) to one window;
- a record longer than the window is cut into windows every `stride_seconds`; when the last window
  would run past the end it is shifted back to end exactly at the record's end, so every sample
  is covered and no window is padded. Inference uses all windows (see `pocketecg.evaluate`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy import signal as sps

from pocketecg.data.record import Record


@dataclass(frozen=True)
class PreprocessSettings:
    fs: int = 250  # 0.5-40 Hz content needs far less than 500 Hz; half the samples, half the compute
    band_hz: tuple[float, float] = (0.5, 40.0)
    filter_order: int = 4  # Butterworth, applied forwards and backwards (zero phase)
    normalisation: str = "zscore"  # per lead, over the whole record
    window_seconds: float = 10.0
    stride_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.fs not in (100, 125, 250, 500):
            raise ValueError(f"fs must be 100, 125, 250 or 500 Hz, got {self.fs}")
        lo, hi = self.band_hz
        if not 0 < lo < hi < self.fs / 2:
            raise ValueError(f"band {self.band_hz} Hz must lie inside (0, {self.fs / 2}) Hz")
        if self.normalisation not in ("zscore", "none"):
            raise ValueError(f"normalisation must be 'zscore' or 'none', got {self.normalisation!r}")
        if self.window_seconds < 2 or self.stride_seconds <= 0:
            raise ValueError("window must be at least 2 s and stride positive")

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * self.fs))

    @property
    def stride_samples(self) -> int:
        return int(round(self.stride_seconds * self.fs))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PreprocessSettings":
        d = dict(d)
        d["band_hz"] = tuple(d["band_hz"])
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def resample(x: np.ndarray, fs_in: float, fs_out: int) -> np.ndarray:
    """Polyphase resampling along the last axis (scipy's anti-aliasing FIR)."""
    if fs_in == fs_out:
        return x
    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    return sps.resample_poly(x, ratio.numerator, ratio.denominator, axis=-1)


@lru_cache(maxsize=16)
def bandpass_sos(fs: int, band_hz: tuple[float, float], order: int) -> np.ndarray:
    return sps.butter(order, band_hz, btype="bandpass", fs=fs, output="sos")


def bandpass(x: np.ndarray, settings: PreprocessSettings) -> np.ndarray:
    return sps.sosfiltfilt(bandpass_sos(settings.fs, settings.band_hz, settings.filter_order), x, axis=-1)


def normalise(x: np.ndarray, settings: PreprocessSettings) -> np.ndarray:
    if settings.normalisation == "none":
        return x
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    # Flat or missing (zero-filled) leads stay at zero instead of dividing noise by ~0.
    return np.where(std > 1e-6, (x - mean) / np.maximum(std, 1e-6), 0.0)


def window_starts(n_samples: int, settings: PreprocessSettings) -> list[int]:
    w, s = settings.window_samples, settings.stride_samples
    if n_samples <= w:
        return [0]
    starts = list(range(0, n_samples - w + 1, s))
    if starts[-1] + w < n_samples:
        starts.append(n_samples - w)
    return starts


def to_windows(x: np.ndarray, settings: PreprocessSettings) -> tuple[np.ndarray, list[int]]:
    w = settings.window_samples
    if x.shape[-1] < w:
        x = np.pad(x, ((0, 0), (0, w - x.shape[-1])))
    starts = window_starts(x.shape[-1], settings)
    return np.stack([x[:, s:s + w] for s in starts]).astype(np.float32), starts


def preprocess_signal(signal: np.ndarray, fs: float, settings: PreprocessSettings) -> np.ndarray:
    """(leads, samples) at `fs` -> filtered, normalised (leads, samples') at settings.fs, float64.

    Each lead's mean is removed first: resampling pads the edges with zeros, so a constant offset
    (a DC-coupled cart, a baseline in the file) would otherwise ring into the first and last second
    and change the prediction. With it removed, the output does not depend on any offset.
    """
    x = np.asarray(signal, dtype=np.float64)
    x = resample(x - x.mean(axis=-1, keepdims=True), fs, settings.fs)
    return normalise(bandpass(x, settings), settings)


def apply(record: Record, settings: PreprocessSettings) -> tuple[np.ndarray, list[int]]:
    """Record -> (windows float32 (n, 12, window_samples), start sample of each window at settings.fs)."""
    return to_windows(preprocess_signal(record.signal, record.fs, settings), settings)
