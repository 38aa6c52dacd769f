"""User files: CSV (one column per lead, header with lead names) and NumPy `.npy` arrays."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from pocketecg.data.record import (MAX_FS, MIN_FS, STANDARD_LEADS, Record, RecordError, arrange_leads, check_sampling_rate,
                                   check_size, standard_lead_name, to_millivolts)

# Time column names by unit; a bare "time" or "t" is taken as seconds unless that gives an implausible rate.
TIME_SECONDS = ("time", "t", "seconds", "sec", "s", "time_s", "time (s)", "time [s]", "t (s)", "t [s]", "time/s")
TIME_MILLISECONDS = ("time_ms", "ms", "msec", "t_ms", "time (ms)", "time [ms]", "t (ms)", "t [ms]", "time/ms")
SEPARATORS = (",", ";", "\t")
SOURCE = "user"
MAX_HEADER_BYTES = 65536


def _first_line(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_HEADER_BYTES)
    except OSError as exc:
        raise RecordError(path, f"unreadable CSV ({exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # a spreadsheet's export in a legacy code page
    return text.splitlines()[0] if text else ""


def csv_dialect(path: Path) -> tuple[str, list[str]]:
    """(separator, header cells): the separator is whichever of , ; tab splits the header into most cells."""
    line = _first_line(path)
    separator = max(SEPARATORS, key=lambda sep: len(line.split(sep)))
    cells = next(csv.reader([line], delimiter=separator), [])
    return separator, [c.strip().strip('"').strip() for c in cells]


def csv_header(path: Path) -> list[str]:
    return csv_dialect(path)[1]


def looks_like_ecg_csv(path: Path) -> bool:
    """A CSV is an ECG when its header names at least one standard lead (metadata tables don't)."""
    try:
        return any(standard_lead_name(c) for c in csv_header(path))
    except RecordError:
        return False


def _numeric_table(path: Path, separator: str) -> np.ndarray:
    """Rows after the header as floats; with ; or tab separators a decimal comma is read as a point."""
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise RecordError(path, f"unreadable CSV ({exc})") from None
    lines = text.splitlines()[1:]
    if separator != ",":
        lines = [line.replace(",", ".") for line in lines]
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise RecordError(path, "the CSV has a header but no sample rows")
    try:
        return np.loadtxt(lines, delimiter=separator, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        sep_name = {"\t": "tab", ",": "comma", ";": "semicolon"}[separator]
        raise RecordError(path, f"non-numeric or ragged CSV rows ({sep_name}-separated; {exc})") from None


def _time_column(lower: list[str]) -> tuple[int, float] | None:
    """(column, seconds per unit) of the time column, if any."""
    for names, scale in ((TIME_MILLISECONDS, 1e-3), (TIME_SECONDS, 1.0)):
        for name in names:
            if name in lower:
                return lower.index(name), scale
    return None


def _fs_from_time(path: Path, times: np.ndarray, name: str, scale: float, warnings: list[str]) -> float:
    steps = np.diff(times)
    if steps.size == 0 or np.median(steps) <= 0:
        raise RecordError(path, f"the time column {name!r} does not increase")
    fs = 1.0 / (np.median(steps) * scale)
    if scale == 1.0 and name in ("time", "t") and fs < MIN_FS and MIN_FS <= fs * 1000 <= MAX_FS:
        warnings.append(f"the time column {name!r} read as milliseconds (as seconds it would mean {fs:g} Hz)")
        fs *= 1000
    return float(np.round(fs, 6))


def read_csv_record(path: str | Path, fs: float | None = None, units: str = "mV",
                    allow_missing_leads: bool = False) -> Record:
    """One column per lead, a header naming the leads; , ; or tab separated; optional time or fs column."""
    path = Path(path)
    separator, header = csv_dialect(path)
    if not any(standard_lead_name(c) for c in header):
        raise RecordError(path, "not an ECG file: the CSV header names no ECG leads (expected I, II, ... V6)")
    table = _numeric_table(path, separator)
    if table.shape[1] != len(header):
        raise RecordError(path, f"rows have {table.shape[1]} columns but the header has {len(header)}")
    lower = [c.lower() for c in header]
    warnings: list[str] = []
    if "fs" in lower:
        fs = check_sampling_rate(table[0, lower.index("fs")], path, " (from the fs column)")
    elif fs is not None:
        fs = check_sampling_rate(fs, path, " (from --fs)")
    else:
        time = _time_column(lower)
        if time is None:
            raise RecordError(path, "sampling rate unknown: give --fs or add a 'time' (s), 'time_ms' or 'fs' column")
        fs = check_sampling_rate(_fs_from_time(path, table[:, time[0]], header[time[0]], time[1], warnings),
                                 path, f" (from the time column {header[time[0]]!r})")
    check_size(table.shape[0], fs, path, leads=12)
    signal, unit = to_millivolts(table.T, units, path)
    signal, missing, derived = arrange_leads(signal, header, path, allow_missing_leads)
    return Record(signal=signal, fs=fs, record_id=path.stem, source=SOURCE, path=str(path),
                  units=unit, missing_leads=missing, derived_leads=derived, warnings=warnings)


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy header, without reading the array (which may claim terabytes)."""
    try:
        with open(path, "rb") as fh:
            start = fh.read(6)
            if start.startswith(b"PK"):
                raise RecordError(path, "a NumPy .npz archive, not a .npy array: save the one 12 x N array with "
                                  "numpy.save")
            fh.seek(0)
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(fh, max_header_size=MAX_HEADER_BYTES)
    except RecordError:
        raise
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise RecordError(path, f"not a .npy file, or a corrupt one ({exc})") from None
    return shape, dtype


def read_npy_record(path: str | Path, fs: float | None = None, units: str = "mV") -> Record:
    """A (12, N) or (N, 12) numeric array in STANDARD_LEADS order; pickled arrays are refused."""
    path = Path(path)
    shape, dtype = npy_header(path)
    if dtype.hasobject:
        raise RecordError(path, "a pickled (object) .npy array: refused, since unpickling runs code; save a numeric "
                          "array")
    if not np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.complexfloating):
        raise RecordError(path, f"not a numeric array (dtype {dtype})")
    if len(shape) != 2 or len(STANDARD_LEADS) not in shape:
        raise RecordError(path, f"wrong lead count: array shape {shape}, expected 12 x samples")
    if fs is None:
        raise RecordError(path, "sampling rate unknown: .npy files need --fs")
    fs = check_sampling_rate(fs, path, " (from --fs)")
    check_size(shape[1] if shape[0] == len(STANDARD_LEADS) else shape[0], fs, path, leads=12)
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise RecordError(path, f"corrupt or truncated .npy file ({exc})") from None
    if array.shape[0] != len(STANDARD_LEADS):
        array = array.T
    signal, unit = to_millivolts(array.astype(np.float64), units, path)
    return Record(signal=signal, fs=fs, record_id=path.stem, source=SOURCE, path=str(path), units=unit)
