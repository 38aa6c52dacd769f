"""Synthetic 12-lead ECGs for tests and the demo (a simple Gaussian-wave beat model).

Each beat is a sum of Gaussian waves (P, Q, R, S, T) whose amplitudes differ per lead. The
findings change the model the way they change a real ECG, roughly:
- AF: irregular RR intervals, no P wave, fibrillatory baseline;
- IAVB: PR interval > 200 ms;
- LBBB / RBBB: QRS > 120 ms, broad notched R in V5-V6 (LBBB) or rSR' in V1-V2 (RBBB);
- STD: ST segment depressed by ~0.15 mV in the lateral and inferior leads.
These are illustrations, not physiology: synthetic records are marked as such wherever shown.
"""

from __future__ import annotations

import numpy as np

from pocketecg.data.record import STANDARD_LEADS

# Per-lead amplitude (mV) of the P, R and T waves, and the S wave depth.
_P = np.array([0.10, 0.15, 0.05, -0.10, 0.03, 0.10, 0.05, 0.08, 0.10, 0.10, 0.10, 0.10])
_R = np.array([0.80, 1.20, 0.40, -0.90, 0.30, 0.80, 0.30, 0.60, 0.90, 1.30, 1.20, 0.90])
_S = np.array([-0.10, -0.15, -0.10, 0.10, -0.10, -0.10, -0.90, -1.10, -0.60, -0.30, -0.15, -0.10])
_T = np.array([0.20, 0.30, 0.10, -0.20, 0.10, 0.20, 0.05, 0.30, 0.35, 0.35, 0.30, 0.25])
_LATERAL_INFERIOR = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 1], dtype=bool)

FINDINGS = ("SNR", "AF", "IAVB", "LBBB", "RBBB", "STD")


def _wave(t: np.ndarray, centre: float, width: float, amplitude: np.ndarray) -> np.ndarray:
    return amplitude[:, None] * np.exp(-0.5 * ((t[None, :] - centre) / width) ** 2)


def synth_ecg(finding: str = "SNR", seconds: float = 10.0, fs: float = 500.0, heart_rate: float = 70.0,
              noise_mv: float = 0.02, seed: int = 0) -> np.ndarray:
    """A (12, seconds*fs) float32 signal in mV showing `finding` (one of FINDINGS)."""
    if finding not in FINDINGS:
        raise ValueError(f"unknown finding {finding!r}; choose one of {FINDINGS}")
    rng = np.random.default_rng(seed)
    n = int(round(seconds * fs))
    t = np.arange(n) / fs
    x = np.zeros((len(STANDARD_LEADS), n))
    rr_mean = 60.0 / heart_rate
    pr = 0.28 if finding == "IAVB" else 0.16
    qrs_w = 0.030 if finding in ("LBBB", "RBBB") else 0.012
    beat = 0.3 + rng.uniform(0, 0.2)
    while beat < seconds + 1:
        rr = rr_mean * (rng.uniform(0.6, 1.4) if finding == "AF" else rng.uniform(0.97, 1.03))
        if finding != "AF":
            x += _wave(t, beat - pr, 0.025, _P)
        r = _R.copy()
        s = _S.copy()
        x += _wave(t, beat - 0.025, 0.008, -0.1 * np.abs(_R))
        x += _wave(t, beat, qrs_w, r)
        if finding == "LBBB":  # broad notched R in lateral leads, deep broad S in V1-V3
            x += _wave(t, beat + 0.05, qrs_w, np.where(np.arange(12) >= 9, 0.8, 0.0) + np.where(np.isin(np.arange(12), [0, 4]), 0.6, 0.0))
            s[6:9] *= 1.8
        if finding == "RBBB":  # R' in V1-V2, broad S in I and V6
            x += _wave(t, beat + 0.06, qrs_w, np.where(np.isin(np.arange(12), [6, 7]), 1.0, 0.0))
            x += _wave(t, beat + 0.06, qrs_w, np.where(np.isin(np.arange(12), [0, 11]), -0.4, 0.0))
        x += _wave(t, beat + 0.035 + qrs_w, qrs_w, s)
        if finding == "STD":
            st = np.where(_LATERAL_INFERIOR, -0.15, 0.0)
            x += _wave(t, beat + 0.12, 0.045, st)
        x += _wave(t, beat + 0.30, 0.05, _T * (-0.5 if finding == "LBBB" else 1.0))
        beat += rr
    if finding == "AF":  # fibrillatory waves, 4-9 Hz, strongest in V1
        f = rng.uniform(5, 8)
        amp = np.where(np.arange(12) == 6, 0.08, 0.04)
        x += amp[:, None] * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi, (12, 1)))
    wander = 0.1 * np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 2 * np.pi, (12, 1)))
    x += wander + rng.normal(0, noise_mv, x.shape)
    return x.astype(np.float32)
