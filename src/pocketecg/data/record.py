"""`Record`: one 12-lead ECG as every later stage sees it, validated on construction."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

STANDARD_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
_LEAD_BY_KEY = {name.lower(): name for name in STANDARD_LEADS}

MIN_SECONDS = 2.0
MAX_FILE_BYTES = 200 * 1024 * 1024  # larger than any 12-lead recording; guards against the wrong file
# Plausibility bounds, checked from a file's header before its samples are read (docs/formats.md).
# Clinical ECGs are sampled at 100 Hz - 10 kHz; below 50 Hz the QRS complex is not resolved, above 20 kHz
# the "sampling rate" is almost surely a misread field. Resting 12-lead ECGs last 10 s to a few minutes;
# 30 minutes is far beyond any of them and keeps one record's working memory below ~1 GiB.
MIN_FS, MAX_FS = 50.0, 20_000.0
MAX_SECONDS = 1800.0
MAX_SAMPLES = 12 * 4_000_000  # values one record may hold as read (before resampling)
# The 8 leads many carts store; the other 4 limb leads follow from I and II (Einthoven/Goldberger).
INDEPENDENT_LEADS = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
DERIVED_LEADS = ("III", "aVR", "aVL", "aVF")
# Units a record may carry. NU: dimensionless (already z-scored, e.g. preprocessed PTB-XL).
UNITS = ("mV", "NU")
# A lead whose peak-to-peak range is below this is flat (1 µV, or 0.001 z-units).
FLAT_RANGE = 1e-3
# Plausible QRS amplitudes are 0.1-5 mV. A robust peak-to-peak of the largest lead outside
# these bounds means the units are wrong (µV stored as mV, or volts stored as mV).
MAX_PLAUSIBLE_MV = 50.0
MIN_PLAUSIBLE_MV = 0.02


class RecordError(ValueError):
    """A file that cannot be read as a 12-lead ECG. The message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def standard_lead_name(name: str) -> str | None:
    """The standard name of a lead as files spell it, else None.

    'avr', 'AVR', 'aVR' -> 'aVR'; 'Lead I', 'LEAD_II', 'MDC_ECG_LEAD_V1', 'Lead I (Einthoven)' (DICOM),
    'V1 [mV]', 'ecg_v1' -> 'I', 'II', 'V1', ...; 'time', 'Pleth' -> None.
    """
    key = re.sub(r"[\(\[].*?[\)\]]", "", str(name)).strip().lower()  # "(Einthoven)", "[mV]"
    key = re.sub(r"^(mdc_ecg_lead_|ecg[\s_-]*lead[\s_:-]*|lead[\s_:-]*|ecg[\s_:-]+)", "", key)
    return _LEAD_BY_KEY.get(key.strip(" _-:"))


@dataclass
class Record:
    signal: np.ndarray  # float32, (12, samples), leads in STANDARD_LEADS order
    fs: float
    record_id: str
    source: str
    path: str
    units: str = "mV"
    labels: frozenset[str] | None = None  # class names from pocketecg.labels.CLASSES; None = unknown
    missing_leads: tuple[str, ...] = ()  # zero-filled because the file lacked them (only when allowed)
    derived_leads: tuple[str, ...] = ()  # computed exactly from I and II because the file lacked them
    meta: dict = field(default_factory=dict)  # age, sex, patient_id, strat_fold, ... when known
    warnings: list[str] = field(default_factory=list)
    # The recording this file holds, the same for every copy of it ("cpsc2018:A0001" for the CPSC .mat
    # and its CinC WFDB copy, "ptbxl:17" for every PTB-XL form and CinC's HR00017); None when the
    # source has no stable id (a CSV file), and the file's own key stands in.
    recording: str | None = None
    # `labels` in the source's own order, first label first, where the source has one (CPSC 2018's
    # REFERENCE.csv First/Second/Third_label; the CPSC 2018 score counts a wrong answer against the first)
    label_order: tuple[str, ...] | None = None

    leads = STANDARD_LEADS

    def __post_init__(self) -> None:
        sig = np.asarray(self.signal)
        if sig.ndim != 2:
            raise RecordError(self.path, f"signal must be 2-D (leads x samples), got shape {sig.shape}")
        if sig.shape[0] != len(STANDARD_LEADS):
            raise RecordError(self.path, f"wrong lead count: {sig.shape[0]} leads, expected 12")
        check_sampling_rate(self.fs, self.path)
        check_size(sig.shape[1], self.fs, self.path, leads=sig.shape[0])
        if self.units not in UNITS:
            raise RecordError(self.path, f"unsupported units {self.units!r} (expected mV, µV, V or NU)")
        seconds = sig.shape[1] / self.fs
        if seconds < MIN_SECONDS:
            raise RecordError(self.path, f"record too short: {seconds:.2f} s, at least {MIN_SECONDS:g} s needed")
        bad = ~np.isfinite(sig)
        if bad.any():
            leads = [STANDARD_LEADS[i] for i in np.flatnonzero(bad.any(axis=1))]
            raise RecordError(self.path, f"NaN or infinite samples ({int(bad.sum())}) in lead(s) {', '.join(leads)}")
        self.signal = sig.astype(np.float32, copy=False)
        self._check_amplitude()

    def _check_amplitude(self) -> None:
        present = [i for i, lead in enumerate(STANDARD_LEADS) if lead not in self.missing_leads]
        lo, hi = np.percentile(self.signal[present], [0.5, 99.5], axis=1)
        spread = hi - lo
        flat = [STANDARD_LEADS[i] for i, s in zip(present, np.ptp(self.signal[present], axis=1)) if s < FLAT_RANGE]
        if len(flat) == len(present):
            raise RecordError(self.path, "all leads are flat (no signal)")
        if flat:
            self.warnings.append(f"flat lead(s): {', '.join(flat)}")
        if self.missing_leads:
            self.warnings.append(f"missing lead(s), zero-filled: {', '.join(self.missing_leads)}")
        if self.derived_leads:
            self.warnings.append(f"lead(s) {', '.join(self.derived_leads)} derived from I and II "
                                 "(the file stores only the independent leads)")
        if self.units == "mV":
            largest = float(spread.max())
            if largest > MAX_PLAUSIBLE_MV:
                raise RecordError(self.path, f"implausible amplitude: {largest:.3g} mV peak-to-peak "
                                  "(wrong units? µV stored as mV?)")
            if largest < MIN_PLAUSIBLE_MV:
                raise RecordError(self.path, f"implausible amplitude: {largest:.3g} mV peak-to-peak "
                                  "(wrong units? volts stored as mV?)")

    @property
    def seconds(self) -> float:
        return self.signal.shape[1] / self.fs


def check_sampling_rate(fs, path: str | Path, where: str = "") -> float:
    """A sampling rate from any source (header, --fs, a time column, ?fs=) must lie in [MIN_FS, MAX_FS]."""
    try:
        value = float(fs)
    except (TypeError, ValueError):
        raise RecordError(path, f"invalid sampling rate {fs!r}{where}") from None
    if not np.isfinite(value) or not MIN_FS <= value <= MAX_FS:
        raise RecordError(path, f"implausible sampling rate {value:g} Hz{where}: an ECG is sampled at "
                          f"{MIN_FS:g} Hz - {MAX_FS / 1000:g} kHz")
    return value


def check_size(samples: int, fs: float, path: str | Path, leads: int = 12) -> None:
    """Refuse a record too long or too large to process, before its samples are allocated."""
    seconds = samples / fs
    if seconds > MAX_SECONDS:
        raise RecordError(path, f"record too long: {seconds:.0f} s, at most {MAX_SECONDS / 60:.0f} minutes "
                          "(a resting ECG; split longer recordings)")
    if samples * leads > MAX_SAMPLES:
        raise RecordError(path, f"record too large: {leads} x {samples} samples, at most {MAX_SAMPLES:,} values")


def to_millivolts(signal: np.ndarray, units: str, path: str | Path) -> tuple[np.ndarray, str]:
    """Scale a signal given in `units` to mV (NU stays NU). Unknown units are an error."""
    key = units.strip().replace("μ", "u").replace("µ", "u").lower()
    scale = {"mv": 1.0, "uv": 1e-3, "v": 1e3}.get(key)
    if scale is not None:
        return signal * scale, "mV"
    if key == "nu":
        return signal, "NU"
    raise RecordError(path, f"unsupported units {units!r} (expected mV, µV, V or NU)")


def arrange_leads(signal: np.ndarray, names: list[str], path: str | Path,
                  allow_missing_leads: bool = False) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """Reorder named rows into STANDARD_LEADS -> (signal, zero-filled leads, derived leads).

    A file with I and II but without some of III, aVR, aVL, aVF gets those derived exactly; a
    derivable lead is never zero-filled. Other missing leads are an error unless allowed.
    """
    rows: dict[str, int] = {}
    duplicates = []
    for i, name in enumerate(names):
        std = standard_lead_name(name)
        if std in rows:
            duplicates.append(std)
        elif std is not None:
            rows[std] = i
    if duplicates:
        raise RecordError(path, f"duplicate lead name(s): {', '.join(sorted(set(duplicates)))}")
    if not rows:
        raise RecordError(path, f"no standard ECG lead names found (got {names[:12]})")
    out = np.zeros((len(STANDARD_LEADS), signal.shape[1]), dtype=np.float32)
    for j, lead in enumerate(STANDARD_LEADS):
        if lead in rows:
            out[j] = signal[rows[lead]]
    derived = ()
    if "I" in rows and "II" in rows:
        derived = tuple(lead for lead in DERIVED_LEADS if lead not in rows)
        lead_i, lead_ii = np.asarray(signal[rows["I"]], np.float64), np.asarray(signal[rows["II"]], np.float64)
        formulas = {"III": lead_ii - lead_i, "aVR": -(lead_i + lead_ii) / 2,
                    "aVL": lead_i - lead_ii / 2, "aVF": lead_ii - lead_i / 2}
        for lead in derived:
            out[STANDARD_LEADS.index(lead)] = formulas[lead]
    missing = tuple(lead for lead in STANDARD_LEADS if lead not in rows and lead not in derived)
    if missing and not allow_missing_leads:
        raise RecordError(path, f"wrong lead count: missing lead(s) {', '.join(missing)} "
                          f"({len(rows)} of 12 present)")
    return out, missing, derived
