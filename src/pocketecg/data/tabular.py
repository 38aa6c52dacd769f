"""User files: CSV (one column per lead, header with lead names) and NumPy `.npy` arrays."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from pocketecg.data.record import STANDARD_LEADS, Record, RecordError, arrange_leads, standard_lead_name, to_millivolts

TIME_COLUMNS = ("time", "t", "seconds", "time_s")
SOURCE = "user"


def csv_header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RecordError(path, f"unreadable CSV ({exc})") from None


def looks_like_ecg_csv(path: Path) -> bool:
    """A CSV is an ECG when its header names at least one standard lead (metadata tables don't)."""
    try:
        return any(standard_lead_name(c) for c in csv_header(path))
    except RecordError:
        return False


def read_csv_record(path: str | Path, fs: float | None = None, units: str = "mV",
                    allow_missing_leads: bool = False) -> Record:
    path = Path(path)
    header = [c.strip() for c in csv_header(path)]
    if not any(standard_lead_name(c) for c in header):
        raise RecordError(path, "not an ECG file: the CSV header names no ECG leads (expected I, II, ... V6)")
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise RecordError(path, f"non-numeric or ragged CSV rows ({exc})") from None
    if table.shape[1] != len(header):
        raise RecordError(path, f"rows have {table.shape[1]} columns but the header has {len(header)}")
    lower = [c.lower() for c in header]
    if "fs" in lower:
        fs = float(table[0, lower.index("fs")])
    elif fs is None:
        time_col = next((lower.index(c) for c in TIME_COLUMNS if c in lower), None)
        if time_col is None:
            raise RecordError(path, "sampling rate unknown: give --fs or add a 'time' (s) or 'fs' column")
        steps = np.diff(table[:, time_col])
        if steps.size == 0 or np.median(steps) <= 0:
            raise RecordError(path, "the time column does not increase")
        fs = float(np.round(1.0 / np.median(steps), 6))
    signal, unit = to_millivolts(table.T, units, path)
    signal, missing = arrange_leads(signal, header, path, allow_missing_leads)
    return Record(signal=signal, fs=fs, record_id=path.stem, source=SOURCE, path=str(path),
                  units=unit, missing_leads=missing)


def read_npy_record(path: str | Path, fs: float | None = None, units: str = "mV") -> Record:
    """A (12, N) or (N, 12) array in STANDARD_LEADS order."""
    path = Path(path)
    if fs is None:
        raise RecordError(path, "sampling rate unknown: .npy files need --fs")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise RecordError(path, f"corrupt or truncated .npy file ({exc})") from None
    if array.ndim != 2 or len(STANDARD_LEADS) not in array.shape:
        raise RecordError(path, f"wrong lead count: array shape {array.shape}, expected 12 x samples")
    if array.shape[0] != len(STANDARD_LEADS):
        array = array.T
    if not np.issubdtype(array.dtype, np.number):
        raise RecordError(path, f"not a numeric array (dtype {array.dtype})")
    signal, unit = to_millivolts(array.astype(np.float64), units, path)
    return Record(signal=signal, fs=float(fs), record_id=path.stem, source=SOURCE, path=str(path), units=unit)
