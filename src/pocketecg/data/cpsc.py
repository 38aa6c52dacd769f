"""CPSC 2018 in its original challenge form: `A0001.mat` (struct `ECG`) + `REFERENCE.csv`."""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.io

from pocketecg import labels as L
from pocketecg.data.record import Record, RecordError

CPSC_FS = 500.0
SOURCE = "cpsc2018_original"


def load_mat(path: Path) -> dict:
    try:
        return scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError... on corrupt files
        raise RecordError(path, f"corrupt or truncated .mat file ({exc.__class__.__name__}: {exc})") from None


def is_cpsc_original(mat: dict) -> bool:
    return "ECG" in mat


@lru_cache(maxsize=32)
def read_reference_order(path: Path) -> dict[str, tuple[str, ...]]:
    """REFERENCE.csv -> {record name: class names, first label first}. Codes 1-9 as in the challenge."""
    out: dict[str, tuple[str, ...]] = {}
    try:
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh):
                codes = [row[k] for k in ("First_label", "Second_label", "Third_label") if row.get(k, "").strip()]
                out[row["Recording"].strip()] = L.ordered_from_cpsc_codes(int(float(c)) for c in codes)
    except (KeyError, ValueError, OSError) as exc:
        raise RecordError(path, f"not a CPSC 2018 REFERENCE.csv ({exc})") from None
    return out


def reference_label_orders(roots) -> dict[str, tuple[str, ...]]:
    """{recording id: ordered class names} from every REFERENCE.csv under `roots` (folders or the files
    themselves). Only REFERENCE.csv keeps CPSC 2018's label order: the WFDB copies list `#Dx` sorted."""
    out: dict[str, tuple[str, ...]] = {}
    for root in map(Path, roots):
        files = [root] if root.is_file() else sorted(root.rglob("REFERENCE.csv")) if root.is_dir() else []
        for reference in files:
            for name, order in read_reference_order(reference).items():
                if recording := cpsc_recording(name):
                    out[recording] = order
    return out


def find_reference(mat_path: Path) -> Path | None:
    """REFERENCE.csv in the record's folder or one of its parents (the archives unpack one level down)."""
    for folder in [mat_path.parent, *mat_path.parents][:3]:
        candidate = folder / "REFERENCE.csv"
        if candidate.is_file():
            return candidate
    return None


def read_cpsc_original(path: str | Path, mat: dict | None = None, reference: Path | None = None) -> Record:
    path = Path(path)
    mat = load_mat(path) if mat is None else mat
    if not is_cpsc_original(mat):
        raise RecordError(path, "not a CPSC 2018 .mat file (no 'ECG' struct)")
    try:
        ecg = mat["ECG"][0, 0]
        data = np.asarray(ecg["data"], dtype=np.float64)
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise RecordError(path, f"malformed CPSC 'ECG' struct ({exc})") from None
    if data.ndim != 2 or 12 not in data.shape:
        raise RecordError(path, f"wrong lead count: data has shape {data.shape}, expected 12 x samples")
    if data.shape[0] != 12:
        data = data.T
    meta = {}
    for key in ("sex", "age"):
        try:
            value = np.asarray(ecg[key]).ravel()
            meta[key] = value[0].item() if value.size else None
            if isinstance(meta[key], np.ndarray | list):
                meta[key] = str(meta[key])
        except (KeyError, ValueError, IndexError):
            pass
    reference = reference or find_reference(path)
    order = read_reference_order(reference).get(path.stem) if reference else None
    return Record(signal=data, fs=CPSC_FS, record_id=path.stem, source=SOURCE, path=str(path), units="mV",
                  labels=frozenset(order) if order is not None else None, label_order=order, meta=meta,
                  recording=cpsc_recording(path.stem))


def cpsc_recording(name: str) -> str | None:
    """CPSC 2018 training records are A0001-A6877, in the original and in the CinC 2020 copy alike."""
    return f"cpsc2018:{name}" if re.fullmatch(r"A\d{4}", name) else None
