"""PTB-XL: WFDB records whose labels, patient and fold live in `ptbxl_database.csv`."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from pocketecg import labels as L
from pocketecg.data.record import Record, RecordError
from pocketecg.data.wfdb import header_fields, read_wfdb_signal, record_base

DATABASE_FILE = "ptbxl_database.csv"


@dataclass(frozen=True)
class PtbxlEntry:
    ecg_id: int
    patient_id: int | None
    strat_fold: int | None
    scp_codes: dict


@lru_cache(maxsize=8)
def load_database(path: Path) -> dict[int, PtbxlEntry]:
    try:
        table = pd.read_csv(path, usecols=["ecg_id", "patient_id", "scp_codes", "strat_fold"])
    except (ValueError, OSError) as exc:
        raise RecordError(path, f"not a PTB-XL database file ({exc})") from None
    out = {}
    for line, row in enumerate(table.itertuples(index=False), start=2):
        try:
            codes = ast.literal_eval(row.scp_codes)
            if not isinstance(codes, dict):
                raise ValueError("scp_codes is not a dictionary")
            out[int(row.ecg_id)] = PtbxlEntry(
                ecg_id=int(row.ecg_id),
                patient_id=None if pd.isna(row.patient_id) else int(row.patient_id),
                strat_fold=None if pd.isna(row.strat_fold) else int(row.strat_fold),
                scp_codes=codes,
            )
        except (ValueError, SyntaxError, TypeError) as exc:
            raise RecordError(path, f"not a PTB-XL database file (line {line}: {exc.__class__.__name__}: "
                              f"{str(exc)[:80]})") from None
    return out


def find_database(record_path: Path, root: Path | None = None) -> Path | None:
    """`ptbxl_database.csv` in the record's folder or a parent (stopping at `root` if given)."""
    for folder in [record_path.parent, *record_path.parents]:
        candidate = folder / DATABASE_FILE
        if candidate.is_file():
            return candidate
        if root is not None and folder == root:
            break
    return None


def ecg_id_of(base: Path, comments: list[str]) -> int | None:
    fields = header_fields(comments)
    if fields.get("ecg_id", "").isdigit():
        return int(fields["ecg_id"])
    m = re.fullmatch(r"(\d+)_(hr|lr)", base.name)
    return int(m.group(1)) if m else None


def read_ptbxl(path: str | Path, database: Path | None = None, allow_missing_leads: bool = False,
               strict_likelihood: bool = False) -> Record:
    base = record_base(path)
    read = read_wfdb_signal(base, allow_missing_leads)
    comments, fs, units = read.comments, read.fs, read.units
    header = base.with_suffix(".hea")
    ecg_id = ecg_id_of(base, comments)
    if ecg_id is None:
        raise RecordError(header, "not a PTB-XL record (no ecg_id in its name or header)")
    database = database or find_database(base)
    entry = load_database(database).get(ecg_id) if database else None
    labels = L.from_ptbxl(entry.scp_codes, strict_likelihood) if entry else None
    meta = {"ecg_id": ecg_id}
    split_hint = header_fields(comments).get("split", "").split(" ")[0]
    if split_hint in ("train", "val", "test"):  # preprocessed copies name their PTB-XL split
        meta["split_hint"] = split_hint
    if entry:
        meta.update(patient_id=entry.patient_id, strat_fold=entry.strat_fold)
    # Preprocessed PTB-XL copies are stored z-scored (units NU); keep them apart from the raw ones.
    source = "ptbxl_processed500" if units == "NU" else f"ptbxl_records{int(fs)}"
    return Record(signal=read.signal, fs=fs, record_id=base.name, source=source, path=str(header), units=units,
                  labels=labels, missing_leads=read.missing, derived_leads=read.derived, meta=meta,
                  recording=f"ptbxl:{ecg_id}")
