"""Files -> findings, with a torch backend (a run directory) or an ONNX backend (one .onnx file).

Both backends carry the same facts: classes, per-class thresholds, preprocessing settings and the
window aggregation rule. Preprocessing is `pocketecg.preprocess.apply`, the function that made the
training cache.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import signal as sps

from pocketecg import labels as L
from pocketecg.data.record import STANDARD_LEADS, Record
from pocketecg.data.scan import ReadOptions, read_record
from pocketecg.inference import SHIPPED_DIR, SHIPPED_FILES, Model, verify_shipped  # noqa: F401 (re-exported)
from pocketecg.preprocess import apply

NOISE_RATIO = 0.3  # a lead is noisy when over 30 % of its variance lies above 40 Hz


@dataclass
class Prediction:
    record: str  # the path given
    labels: list[str]  # classes whose probability reaches their threshold
    probabilities: dict[str, float]
    thresholds: dict[str, float]
    windows: int
    window_starts_s: list[float]
    seconds: float
    fs: float
    source: str
    warnings: list[str] = field(default_factory=list)
    window_probabilities: list[dict[str, float]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # the labels in words: "SNR (normal ECG)"
    not_assessed: list[str] = field(default_factory=list)  # what this model does not look at

    def summary(self) -> str:
        """The findings as one line; an empty list is said not to be a normal result."""
        if self.findings:
            return ", ".join(self.findings)
        return "no finding: none of the classes reached its threshold (this is not a normal-ECG result)"

    def to_dict(self) -> dict:
        return asdict(self)


def noisy_leads(record: Record) -> list[str]:
    """Leads with over NOISE_RATIO of their (baseline-free) variance above 40 Hz, at the record's own rate."""
    fs = record.fs
    if fs <= 90:  # nothing above 40 Hz to look at
        return []
    x = record.signal.astype(np.float64)
    above = sps.sosfiltfilt(sps.butter(4, 40.0, "highpass", fs=fs, output="sos"), x, axis=-1).var(axis=-1)
    total = sps.sosfiltfilt(sps.butter(2, 0.5, "highpass", fs=fs, output="sos"), x, axis=-1).var(axis=-1)
    ratio = np.divide(above, total, out=np.zeros_like(total), where=total > 1e-8)  # flat leads are not noisy
    return [lead for lead, r in zip(STANDARD_LEADS, ratio) if r > NOISE_RATIO and lead not in record.missing_leads]


class Predictor(Model):
    """A model that turns records into `Prediction`s (the loading and the math are `inference.Model`'s)."""

    def predict_record(self, record: Record, name: str | None = None,
                       prepared: tuple[np.ndarray, list[int]] | None = None) -> Prediction:
        """`prepared`: `apply(record, self.settings)` when the caller already has it (e.g. for explanations)."""
        windows, starts = prepared if prepared is not None else apply(record, self.settings)
        p, p_windows = self.probabilities(windows)
        warnings = list(record.warnings)
        if record.seconds < self.settings.window_seconds:
            warnings.append(f"short record: {record.seconds:.1f} s, zero-padded to the "
                            f"{self.settings.window_seconds:g}-s window")
        noisy = noisy_leads(record)
        if noisy:
            warnings.append(f"noisy lead(s): {', '.join(noisy)}")
        probabilities = {c: round(float(v), 6) for c, v in zip(self.classes, p)}
        return Prediction(
            record=name or record.path,
            labels=[c for c, hit in zip(self.classes, self.decide(np.array(list(probabilities.values())))) if hit],
            probabilities=probabilities,
            thresholds=self.thresholds,
            windows=len(starts),
            window_starts_s=[round(s / self.settings.fs, 3) for s in starts],
            seconds=round(record.seconds, 3),
            fs=record.fs,
            source=record.source,
            warnings=warnings,
            window_probabilities=[{c: round(float(v), 6) for c, v in zip(self.classes, row)} for row in p_windows],
            findings=[f"{c} ({L.CLASS_DESCRIPTIONS.get(c, c)})" for c, hit in
                      zip(self.classes, self.decide(np.array(list(probabilities.values())))) if hit],
            not_assessed=L.not_assessed(self.classes),
        )

    def predict_file(self, path: str | Path, options: ReadOptions = ReadOptions()) -> Prediction:
        return self.predict_record(read_record(path, options), str(path))
