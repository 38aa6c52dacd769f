"""The prepared cache: every record read, preprocessed and windowed once, then memory-mapped.

Layout of a cache folder:
    windows.f32     float32 array (n_windows, 12, window_samples), C order, raw bytes (np.memmap)
    manifest.csv    one row per window: window, record, source, split, start, n_windows, labelled,
                    and one 0/1 column per class of pocketecg.labels.CLASSES (empty when unknown)
    cache.json      preprocessing settings, array shape, counts, failures, manifest sha256
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pocketecg import __version__
from pocketecg import labels as L
from pocketecg.data.ptbxl import DATABASE_FILE, load_database
from pocketecg.data.record import STANDARD_LEADS, RecordError
from pocketecg.data.scan import Candidate, ReadOptions, find_candidates, parallel_map, read_candidate
from pocketecg.preprocess import PreprocessSettings, apply
from pocketecg.splits import SplitInput, assign_splits, cinc_ptbxl_ecg_id

WINDOWS_FILE = "windows.f32"
MANIFEST_FILE = "manifest.csv"
INFO_FILE = "cache.json"


@dataclass
class PrepareReport:
    records: int
    windows: int
    failures: list[tuple[str, str]]
    seconds: float
    split_records: dict[str, int] = field(default_factory=dict)


def _prepare_one(args: tuple[Candidate, ReadOptions, PreprocessSettings]):
    candidate, options, settings = args
    try:
        record = read_candidate(candidate, options)
        windows, starts = apply(record, settings)
    except RecordError as exc:
        return None, (exc.path, exc.problem)
    except Exception as exc:  # one bad record never stops the run
        return None, (str(candidate.path), f"unexpected error: {exc.__class__.__name__}: {exc}")
    info = {"record": candidate.key, "source": record.source, "labels": record.labels,
            "strat_fold": record.meta.get("strat_fold"), "split_hint": record.meta.get("split_hint"),
            "starts": starts}
    return (info, windows), None


def ptbxl_folds(folders: list[Path]) -> dict[int, int]:
    """ecg_id -> strat_fold from any ptbxl_database.csv under the folders (for CinC's HR* copies)."""
    folds: dict[int, int] = {}
    for root in folders:
        for db in sorted(root.rglob(DATABASE_FILE)):
            folds.update({k: e.strat_fold for k, e in load_database(db).items() if e.strat_fold})
    return folds


def prepare(folders: list[str | Path], out: str | Path, settings: PreprocessSettings = PreprocessSettings(),
            options: ReadOptions = ReadOptions(), seed: int = 0, workers: int | None = None,
            progress=None, candidates: list[Candidate] | None = None) -> PrepareReport:
    t0 = time.perf_counter()
    folders = [Path(f) for f in folders]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    candidates = find_candidates(folders) if candidates is None else candidates
    infos, failures = [], []
    n_windows = 0
    tmp = out / (WINDOWS_FILE + ".partial")
    with open(tmp, "wb") as fh:
        jobs = [(c, options, settings) for c in candidates]
        for result, failure in parallel_map(_prepare_one, jobs, workers, chunksize=4):
            if result is None:
                failures.append(failure)
            else:
                info, windows = result
                fh.write(np.ascontiguousarray(windows, dtype=np.float32).tobytes())
                info["first_window"] = n_windows
                n_windows += len(windows)
                infos.append(info)
            if progress is not None:
                progress()
    tmp.replace(out / WINDOWS_FILE)

    folds = ptbxl_folds(folders)
    split_inputs = []
    for info in infos:
        fold = info["strat_fold"]
        if fold is None and info["source"] == "cinc_ptbxl":
            fold = folds.get(cinc_ptbxl_ecg_id(info["record"]))
        split_inputs.append(SplitInput(info["record"], info["source"], info["labels"], fold, info["split_hint"]))
    splits = assign_splits(split_inputs, seed)

    rows = []
    for info in infos:
        labelled = info["labels"] is not None
        vec = L.to_vector(info["labels"] or ())
        for i, start in enumerate(info["starts"]):
            row = {"window": info["first_window"] + i, "record": info["record"], "source": info["source"],
                   "split": splits[info["record"]], "start": start, "n_windows": len(info["starts"]),
                   "labelled": int(labelled)}
            row.update({c: (int(v) if labelled else None) for c, v in zip(L.CLASSES, vec)})
            rows.append(row)
    manifest = pd.DataFrame(rows, columns=["window", "record", "source", "split", "start", "n_windows",
                                           "labelled", *L.CLASSES])
    for c in L.CLASSES:
        manifest[c] = manifest[c].astype("Int8")
    manifest.to_csv(out / MANIFEST_FILE, index=False)
    seconds = time.perf_counter() - t0
    split_records = dict(Counter(splits.values()))
    info = {
        "pocketecg_version": __version__,
        "settings": settings.to_dict(),
        "shape": [n_windows, len(STANDARD_LEADS), settings.window_samples],
        "dtype": "float32",
        "records": len(infos),
        "windows": n_windows,
        "split_records": split_records,
        "seed": seed,
        "sources": [str(f.resolve()) for f in folders],
        "failures": [{"path": p, "problem": m} for p, m in failures],
        "manifest_sha256": hashlib.sha256((out / MANIFEST_FILE).read_bytes()).hexdigest(),
        "prepare_seconds": round(seconds, 2),
    }
    (out / INFO_FILE).write_text(json.dumps(info, indent=2))
    return PrepareReport(len(infos), n_windows, failures, seconds, split_records)


class CacheError(RuntimeError):
    pass


class PreparedCache:
    """Read side of a cache folder: the memory-mapped windows and the manifest."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        try:
            self.info = json.loads((self.folder / INFO_FILE).read_text())
            self.manifest = pd.read_csv(self.folder / MANIFEST_FILE, dtype={c: "Int8" for c in L.CLASSES})
        except (OSError, ValueError) as exc:
            raise CacheError(f"{self.folder}: not a prepared cache ({exc}); run `pocketecg prepare` first") from None
        self.settings = PreprocessSettings.from_dict(self.info["settings"])
        shape = tuple(self.info["shape"])
        self.windows = (np.memmap(self.folder / WINDOWS_FILE, dtype=np.float32, mode="r", shape=shape)
                        if shape[0] else np.zeros(shape, np.float32))

    @property
    def manifest_sha256(self) -> str:
        return self.info["manifest_sha256"]

    def rows(self, split: str | None = None, labelled_only: bool = True) -> pd.DataFrame:
        m = self.manifest
        if split is not None:
            m = m[m["split"] == split]
        if labelled_only:
            m = m[m["labelled"] == 1]
        return m

    def targets(self, rows: pd.DataFrame, classes: tuple[str, ...]) -> np.ndarray:
        return rows[list(classes)].to_numpy(dtype=np.float32)


class PreparedDataset:
    """Windows of one split as (signal float32 (12, W), target float32 (n_classes,)) pairs.

    A torch-compatible map-style dataset (len + getitem); it does not import torch itself so the
    data stage stays free of the model stage.
    """

    def __init__(self, cache: PreparedCache | str | Path, split: str, classes: tuple[str, ...] = L.CLASSES):
        self.cache = cache if isinstance(cache, PreparedCache) else PreparedCache(cache)
        self.rows = self.cache.rows(split)
        self.classes = tuple(classes)
        self.window_index = self.rows["window"].to_numpy()
        self.targets = self.cache.targets(self.rows, self.classes)
        self.records = self.rows["record"].to_numpy()

    def __len__(self) -> int:
        return len(self.window_index)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return np.array(self.cache.windows[self.window_index[i]]), self.targets[i]

    def batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fancy-indexed read: one sorted memmap gather, much faster than item by item."""
        order = np.argsort(self.window_index[indices])
        idx = np.asarray(indices)[order]
        return np.asarray(self.cache.windows[self.window_index[idx]]), self.targets[idx]


def measure_read_rate(dataset: PreparedDataset, batch_size: int = 32, batches: int = 50, seed: int = 0) -> float:
    """Windows per second for random batches (what a training loop asks of the cache)."""
    if len(dataset) == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    n = 0
    for _ in range(batches):
        x, _ = dataset.batch(rng.integers(0, len(dataset), size=batch_size))
        n += len(x)
    return n / (time.perf_counter() - t0)
