"""The prepared cache: every record read, preprocessed and windowed once, then memory-mapped.

Layout of a cache folder:
    windows.f32     float32 array (n_windows, 12, window_samples), C order, raw bytes (np.memmap)
    manifest.csv    one row per window: window, record, source, recording, patient, group, primary, split,
                    start, n_windows, labelled, and one 0/1 column per class of pocketecg.labels.CLASSES
                    (empty when unknown)

`recording` is the canonical recording id (every copy of one recording shares it), `group` the unit
the split was drawn over (the patient where known, else the recording), and `primary` marks the one
copy of each recording that training and scoring use: a recording present in two forms is neither
weighted twice in training nor counted twice in a score. The other copies stay in the cache (and in
the same split), so a test can still check that two forms give the same answer.
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
from pocketecg.splits import SplitInput, assign_splits

WINDOWS_FILE = "windows.f32"
MANIFEST_FILE = "manifest.csv"
INFO_FILE = "cache.json"
MANIFEST_COLUMNS = ["window", "record", "source", "recording", "patient", "group", "primary", "split", "start",
                    "n_windows", "labelled", *L.CLASSES]


@dataclass
class PrepareReport:
    records: int
    windows: int
    failures: list[tuple[str, str]]
    seconds: float
    split_records: dict[str, int] = field(default_factory=dict)
    duplicate_copies: int = 0


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
            "recording": record.recording or f"file:{candidate.key}", "patient": record.meta.get("patient_id"),
            "ecg_id": record.meta.get("ecg_id"), "strat_fold": record.meta.get("strat_fold"),
            "split_hint": record.meta.get("split_hint"), "starts": starts}
    return (info, windows), None


def ptbxl_entries(folders: list[Path]) -> dict:
    """ecg_id -> PTB-XL database entry from any ptbxl_database.csv under the folders (for copies
    that do not carry their fold and patient, such as CinC's HR* records)."""
    entries = {}
    for root in folders:
        for db in sorted(root.rglob(DATABASE_FILE)):
            entries.update(load_database(db))
    return entries


# Which copy of a recording to train on: the original form, at its full rate and in mV, first.
COPY_PREFERENCE = ("cpsc2018_original", "ptbxl_records500", "cpsc2018_wfdb", "ptbxl_records100", "cinc_ptbxl",
                   "ptbxl_processed500")


def copy_rank(info: dict) -> tuple:
    source = info["source"]
    rank = COPY_PREFERENCE.index(source) if source in COPY_PREFERENCE else 0
    return (info["labels"] is None, rank, info["record"])


def group_copies(infos: list[dict], folders: list[Path]) -> None:
    """Fill in each record's patient (from PTB-XL's database for copies), group and primary flag."""
    entries = ptbxl_entries(folders)
    for info in infos:
        entry = entries.get(info["ecg_id"]) if info["ecg_id"] is not None else None
        if entry is not None:
            info["patient"] = info["patient"] if info["patient"] is not None else entry.patient_id
            info["strat_fold"] = info["strat_fold"] if info["strat_fold"] is not None else entry.strat_fold
        if info["patient"] is not None and info["recording"].startswith("ptbxl:"):
            info["group"] = f"ptbxl-patient:{info['patient']}"
        else:
            info["group"] = info["recording"]
    by_recording: dict[str, list[dict]] = {}
    for info in infos:
        by_recording.setdefault(info["recording"], []).append(info)
    for copies in by_recording.values():
        best = min(copies, key=copy_rank)
        for info in copies:
            info["primary"] = info is best


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

    group_copies(infos, folders)
    splits = assign_splits([SplitInput(i["record"], i["source"], i["labels"], i["strat_fold"], i["split_hint"],
                                       i["group"]) for i in infos], seed)

    rows = []
    for info in infos:
        labelled = info["labels"] is not None
        vec = L.to_vector(info["labels"] or ())
        for i, start in enumerate(info["starts"]):
            row = {"window": info["first_window"] + i, "record": info["record"], "source": info["source"],
                   "recording": info["recording"], "patient": info["patient"], "group": info["group"],
                   "primary": int(info["primary"]), "split": splits[info["record"]], "start": start,
                   "n_windows": len(info["starts"]), "labelled": int(labelled)}
            row.update({c: (int(v) if labelled else None) for c, v in zip(L.CLASSES, vec)})
            rows.append(row)
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    manifest["patient"] = manifest["patient"].astype("Int64")
    for c in L.CLASSES:
        manifest[c] = manifest[c].astype("Int8")
    manifest.to_csv(out / MANIFEST_FILE, index=False)
    seconds = time.perf_counter() - t0
    split_records = dict(Counter(splits.values()))
    copies = len(infos) - sum(i["primary"] for i in infos)
    info = {
        "pocketecg_version": __version__,
        "settings": settings.to_dict(),
        "shape": [n_windows, len(STANDARD_LEADS), settings.window_samples],
        "dtype": "float32",
        "records": len(infos),
        "windows": n_windows,
        "split_records": split_records,
        "recordings": len(infos) - copies,
        "duplicate_copies": copies,
        "seed": seed,
        "sources": [str(f.resolve()) for f in folders],
        "failures": [{"path": p, "problem": m} for p, m in failures],
        "manifest_sha256": hashlib.sha256((out / MANIFEST_FILE).read_bytes()).hexdigest(),
        "prepare_seconds": round(seconds, 2),
    }
    (out / INFO_FILE).write_text(json.dumps(info, indent=2))
    return PrepareReport(len(infos), n_windows, failures, seconds, split_records, copies)


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
        if "primary" not in self.manifest.columns:
            raise CacheError(f"{self.folder}: prepared by an older pocketecg (no recording ids, so copies of one "
                             "recording could straddle splits); run `pocketecg prepare` again")
        try:
            self.settings = PreprocessSettings.from_dict(self.info["settings"])
            shape = tuple(int(n) for n in self.info["shape"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CacheError(f"{self.folder / INFO_FILE}: damaged ({exc}); run `pocketecg prepare` again") from None
        windows_file = self.folder / WINDOWS_FILE
        expected = int(np.prod(shape)) * 4
        actual = windows_file.stat().st_size if windows_file.is_file() else None
        if shape[0] and actual != expected:
            raise CacheError(f"{windows_file}: {'missing' if actual is None else f'{actual:,} bytes'}, the cache "
                             f"says {expected:,} (truncated or replaced?); run `pocketecg prepare` again")
        if len(self.manifest) != shape[0]:  # one manifest row per window
            raise CacheError(f"{self.folder / MANIFEST_FILE}: lists {len(self.manifest)} windows, "
                             f"{windows_file.name} holds {shape[0]}; run `pocketecg prepare` again")
        self.windows = (np.memmap(windows_file, dtype=np.float32, mode="r", shape=shape)
                        if shape[0] else np.zeros(shape, np.float32))

    def check_for_training(self) -> None:
        """Before any training: the manifest is the one the cache was written with, and every window is finite.

        An edited manifest (labels changed by hand) would silently train on other labels than the split hash
        names; a NaN window would train a NaN model (which then prints bare NaN, not JSON).
        """
        import hashlib

        digest = hashlib.sha256((self.folder / MANIFEST_FILE).read_bytes()).hexdigest()
        if digest != self.manifest_sha256:
            raise CacheError(f"{self.folder / MANIFEST_FILE}: changed since `prepare` wrote it (sha256 {digest[:12]}, "
                             f"cache.json says {self.manifest_sha256[:12]}); labels and splits no longer match the "
                             "cache. Run `pocketecg prepare` again")
        for start in range(0, len(self.windows), 256):
            block = np.asarray(self.windows[start:start + 256])
            if not np.isfinite(block).all():
                bad = start + int(np.flatnonzero(~np.isfinite(block).reshape(len(block), -1).all(axis=1))[0])
                row = self.manifest.iloc[bad]
                raise CacheError(f"{self.folder / WINDOWS_FILE}: window {bad} (record {row['record']}) holds NaN or "
                                 "infinite values; run `pocketecg prepare` again")

    @property
    def manifest_sha256(self) -> str:
        return self.info["manifest_sha256"]

    def rows(self, split: str | tuple[str, ...] | None = None, labelled_only: bool = True,
             primary_only: bool = True) -> pd.DataFrame:
        """Manifest rows of a split (or several); by default one copy per recording, labelled only."""
        m = self.manifest
        if split is not None:
            m = m[m["split"].isin([split] if isinstance(split, str) else list(split))]
        if primary_only:
            m = m[m["primary"] == 1]
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

    def __init__(self, cache: PreparedCache | str | Path, split: str | tuple[str, ...],
                 classes: tuple[str, ...] = L.CLASSES, records: set[str] | None = None):
        """`records`: keep only these record keys (a cross-fitting fold)."""
        self.cache = cache if isinstance(cache, PreparedCache) else PreparedCache(cache)
        self.rows = self.cache.rows(split)
        if records is not None:
            self.rows = self.rows[self.rows["record"].isin(records)]
        self.classes = tuple(classes)
        self.window_index = self.rows["window"].to_numpy()
        self.targets = self.cache.targets(self.rows, self.classes)
        self.records = self.rows["record"].to_numpy()

    def __len__(self) -> int:
        return len(self.window_index)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return np.array(self.cache.windows[self.window_index[i]]), self.targets[i]

    def sorted_indices(self, indices: np.ndarray) -> np.ndarray:
        """The order `batch` returns items in: by position in the memmap."""
        return np.asarray(indices)[np.argsort(self.window_index[indices], kind="stable")]

    def batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fancy-indexed read: one sorted memmap gather, much faster than item by item. Items come back in
        `sorted_indices(indices)` order."""
        idx = self.sorted_indices(indices)
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
