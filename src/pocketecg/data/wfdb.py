"""PhysioNet/CinC WFDB records: a `.hea` header with `.mat` or `.dat` signal files.

Every signal format wfdb-python reads is accepted (16, 212, 516/FLAC, the CinC `.mat`
wrapper...). Labels come from the `#Dx:` comment, as SNOMED-CT codes or CPSC text names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
import wfdb

from pocketecg import labels as L
from pocketecg.data.record import (MAX_FILE_BYTES, Record, RecordError, arrange_leads, check_sampling_rate, check_size,
                                   to_millivolts)


def record_base(path: str | Path) -> Path:
    """`x/A0001.hea`, `x/A0001.mat` or `x/A0001` -> `x/A0001` (what wfdb expects)."""
    path = Path(path)
    return path.with_suffix("") if path.suffix.lower() in {".hea", ".mat", ".dat"} else path


def read_header_comments(path: str | Path) -> list[str]:
    base = record_base(path)
    try:
        return wfdb.rdheader(str(base)).comments
    except Exception as exc:
        raise RecordError(base.with_suffix(".hea"), f"unreadable WFDB header ({exc})") from None


@dataclass
class WfdbSignal:
    signal: np.ndarray  # 12 x N in STANDARD_LEADS order
    fs: float
    units: str
    missing: tuple[str, ...]  # zero-filled (only when allowed)
    derived: tuple[str, ...]  # computed from I and II
    comments: list[str]


def check_header(base: Path) -> None:
    """Sampling rate, length and signal-file sizes from the header, before any sample is read."""
    header = base.with_suffix(".hea")
    try:
        meta = wfdb.rdheader(str(base))
    except Exception as exc:
        raise RecordError(header, f"unreadable WFDB header ({exc.__class__.__name__}: {exc})") from None
    if meta.fs is not None:
        check_sampling_rate(meta.fs, header, " (from the header)")
        if meta.sig_len:
            check_size(int(meta.sig_len), float(meta.fs), header, leads=max(int(meta.n_sig or 1), 1))
    for name in set(meta.file_name or []):
        signal_file = base.parent / name
        if signal_file.is_file() and signal_file.stat().st_size > MAX_FILE_BYTES:
            raise RecordError(signal_file, f"file too large for one ECG ({signal_file.stat().st_size / 2**20:.0f} MiB)")


def read_wfdb_signal(path: str | Path, allow_missing_leads: bool = False) -> WfdbSignal:
    base = record_base(path)
    header = base.with_suffix(".hea")
    if not header.is_file():
        raise RecordError(header, "WFDB header (.hea) not found")
    check_header(base)
    try:
        rec = wfdb.rdrecord(str(base), physical=True)
    except Exception as exc:  # wfdb raises many types for broken headers and signal files
        raise RecordError(header, f"corrupt or truncated WFDB record ({exc.__class__.__name__}: {exc})") from None
    sig = rec.p_signal
    if any(name.lower().endswith(".mat") for name in rec.file_name or []):
        sig = _physical_from_mat(base, rec)
    if sig is None or sig.ndim != 2 or sig.shape[0] == 0:
        raise RecordError(header, "WFDB record has no samples")
    expected = rec.sig_len
    if expected and sig.shape[0] != expected:
        raise RecordError(header, f"truncated signal: {sig.shape[0]} of {expected} samples")
    units = {u.strip().lower() for u in rec.units or ["mV"]}
    if len(units) != 1:
        raise RecordError(header, f"leads use different units: {sorted(units)}")
    signal, unit = to_millivolts(sig.T.astype(np.float64), units.pop(), header)
    signal, missing, derived = arrange_leads(signal, list(rec.sig_name), header, allow_missing_leads)
    return WfdbSignal(signal, float(rec.fs), unit, missing, derived, list(rec.comments))


def _physical_from_mat(base: Path, rec) -> np.ndarray:
    """CinC `.mat` signal files: take `val` from the MAT file itself, not from a fixed byte offset.

    wfdb reads these as format 16 at byte offset 24, which is right only for MATLAB v4 files; a v5
    file with the same header would decode to plausible-looking garbage. scipy reads both.
    """
    mat_path = base.with_suffix(".mat")
    try:
        val = np.asarray(scipy.io.loadmat(str(mat_path))["val"], dtype=np.float64)
    except Exception as exc:
        raise RecordError(mat_path, f"corrupt or truncated .mat file ({exc.__class__.__name__}: {exc})") from None
    if val.shape != (rec.n_sig, rec.sig_len):
        raise RecordError(mat_path, f"'val' has shape {val.shape}, the header says {rec.n_sig} x {rec.sig_len}")
    gain = np.asarray(rec.adc_gain, dtype=np.float64)[:, None]
    baseline = np.asarray(rec.baseline, dtype=np.float64)[:, None]
    if np.any(gain == 0):
        raise RecordError(base.with_suffix(".hea"), "a lead has ADC gain 0")
    return ((val - baseline) / gain).T


def header_fields(comments: list[str]) -> dict[str, str]:
    """'#Dx: 164889003,59118001' -> {'dx': '164889003,59118001'}."""
    out = {}
    for line in comments:
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


_CINC_PREFIXES = (("A", "cpsc2018_wfdb"), ("Q", "cinc_cpsc_extra"), ("E", "cinc_georgia"),
                  ("HR", "cinc_ptbxl"), ("S", "cinc_ptb"), ("I", "cinc_incart"))


def cinc_source(record_id: str) -> str:
    """The CinC 2020/2021 database a record belongs to, from its name."""
    m = re.fullmatch(r"JS(\d+)", record_id)
    if m:  # Chapman-Shaoxing is JS00001-JS10646; Ningbo follows
        return "cinc_chapman_shaoxing" if int(m.group(1)) <= 10646 else "cinc_ningbo"
    for prefix, source in _CINC_PREFIXES:
        if re.fullmatch(prefix + r"\d+", record_id):
            return source
    return "wfdb"


def cinc_recording(record_id: str, source: str) -> str | None:
    """Canonical recording id of a CinC record: the original it copies where one exists.

    CinC 2020's CPSC set is CPSC 2018's training set under the same names (A0001-A6877) and its
    PTB-XL set is PTB-XL renamed (HR00017 is ecg_id 17); the other CinC sets are their own originals.
    """
    if source == "cpsc2018_wfdb":
        return f"cpsc2018:{record_id}"
    if source == "cinc_ptbxl":
        return f"ptbxl:{int(record_id[2:])}"
    if source.startswith("cinc_"):
        return f"{source}:{record_id}"
    return None


def read_wfdb(path: str | Path, allow_missing_leads: bool = False) -> Record:
    base = record_base(path)
    read = read_wfdb_signal(base, allow_missing_leads)
    fields = header_fields(read.comments)
    labels = L.from_dx(fields["dx"].split(",")) if fields.get("dx") else None
    meta = {k: fields[k] for k in ("age", "sex") if k in fields}
    source = cinc_source(base.name)
    recording = cinc_recording(base.name, source)
    if source == "cinc_ptbxl":
        meta["ecg_id"] = int(base.name[2:])
    return Record(signal=read.signal, fs=read.fs, record_id=base.name, source=source,
                  path=str(base.with_suffix(".hea")), units=read.units, labels=labels,
                  missing_leads=read.missing, derived_leads=read.derived, meta=meta, recording=recording)
