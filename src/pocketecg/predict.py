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

from pocketecg.data.record import STANDARD_LEADS, Record
from pocketecg.data.scan import ReadOptions, read_record
from pocketecg.preprocess import PreprocessSettings, apply

SHIPPED_DIR = Path(__file__).parent / "weights" / "lite-six"
SHIPPED_FILES = ("config.json", "model.pt", "model.onnx", "model-int8.onnx")
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


def verify_shipped(folder: Path = SHIPPED_DIR) -> dict[str, str]:
    """Check the shipped files against weights/.../SHA256SUMS; a mismatch is an error, never a silent load."""
    import hashlib

    sums_file = folder / "SHA256SUMS"
    if not sums_file.is_file():
        raise ValueError(f"{folder}: the shipped model is missing (no SHA256SUMS); reinstall pocketecg")
    rows = (line.split(maxsplit=1) for line in sums_file.read_text().splitlines() if line.strip())
    expected = {name.strip(): digest for digest, name in rows}
    for name in SHIPPED_FILES:
        path = folder / name
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        if digest != expected.get(name):
            raise ValueError(f"{path}: SHA-256 check failed (expected {expected.get(name)}, got {digest}); "
                             "the shipped model is damaged, reinstall pocketecg")
    return expected


class Predictor:
    def __init__(self, classes, thresholds: dict[str, float], settings: PreprocessSettings, aggregation: str,
                 logits_fn, description: str, torch_model=None):
        if aggregation != "mean":
            raise ValueError(f"unsupported window aggregation {aggregation!r}")
        self.classes = tuple(classes)
        self.thresholds = {c: float(thresholds[c]) for c in self.classes}
        self.settings = settings
        self._logits = logits_fn
        self.description = description
        self.torch_model = torch_model  # for explanations (gradients); None for ONNX files

    @classmethod
    def from_path(cls, path: str | Path) -> "Predictor":
        path = Path(path)
        if path.is_dir():
            return cls.from_run(path)
        if path.suffix.lower() == ".onnx":
            return cls.from_onnx(path)
        raise ValueError(f"{path}: not a model (expected a run directory or an .onnx file)")

    @classmethod
    def shipped(cls) -> "Predictor":
        """The model shipped inside the package, after checking every file against its SHA-256."""
        verify_shipped()
        return cls.from_run(SHIPPED_DIR)

    @classmethod
    def from_run(cls, run_dir: str | Path) -> "Predictor":
        import torch

        from pocketecg.train import load_run

        model, config = load_run(run_dir)

        def logits(windows: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model(torch.from_numpy(windows)).numpy()

        return cls(config["classes"], config["thresholds"], PreprocessSettings.from_dict(config["preprocessing"]),
                   config.get("window_aggregation", "mean"), logits, f"{config['model']} (torch, {run_dir})", model)

    @classmethod
    def from_onnx(cls, path: str | Path) -> "Predictor":
        from pocketecg.export import INPUT_NAME, OUTPUT_NAME, onnx_session, read_metadata

        meta = read_metadata(path)
        session = onnx_session(path, threads=0)

        def logits(windows: np.ndarray) -> np.ndarray:
            return session.run([OUTPUT_NAME], {INPUT_NAME: windows})[0]

        return cls(json.loads(meta["classes"]), json.loads(meta["thresholds"]),
                   PreprocessSettings.from_dict(json.loads(meta["preprocessing"])),
                   meta.get("window_aggregation", "mean"), logits, f"{meta.get('model', 'model')} (onnx, {path})")

    def window_probabilities(self, windows: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self._logits(np.ascontiguousarray(windows, dtype=np.float32)).astype(np.float64)))

    def predict_record(self, record: Record, name: str | None = None,
                       prepared: tuple[np.ndarray, list[int]] | None = None) -> Prediction:
        """`prepared`: `apply(record, self.settings)` when the caller already has it (e.g. for explanations)."""
        windows, starts = prepared if prepared is not None else apply(record, self.settings)
        p_windows = self.window_probabilities(windows)
        p = p_windows.mean(axis=0)  # the aggregation used at training and evaluation time
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
            labels=[c for c in self.classes if probabilities[c] >= self.thresholds[c]],
            probabilities=probabilities,
            thresholds=self.thresholds,
            windows=len(starts),
            window_starts_s=[round(s / self.settings.fs, 3) for s in starts],
            seconds=round(record.seconds, 3),
            fs=record.fs,
            source=record.source,
            warnings=warnings,
            window_probabilities=[{c: round(float(v), 6) for c, v in zip(self.classes, row)} for row in p_windows],
        )

    def predict_file(self, path: str | Path, options: ReadOptions = ReadOptions()) -> Prediction:
        return self.predict_record(read_record(path, options), str(path))
