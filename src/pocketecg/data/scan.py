"""Read any supported file by its content, and scan folders into an index of records and failures."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pocketecg.data.clinical import CLINICAL_SUFFIXES, is_dicom, read_clinical
from pocketecg.data.cpsc import is_cpsc_original, load_mat, read_cpsc_original
from pocketecg.data.ptbxl import ecg_id_of, find_database, read_ptbxl
from pocketecg.data.record import MAX_FILE_BYTES, Record, RecordError
from pocketecg.data.tabular import looks_like_ecg_csv, read_csv_record, read_npy_record
from pocketecg.data.wfdb import header_fields, read_header_comments, read_wfdb, record_base



@dataclass(frozen=True)
class ReadOptions:
    fs: float | None = None  # for .npy / CSV files without a time column
    units: str = "mV"  # for .npy / CSV files
    allow_missing_leads: bool = False
    strict_likelihood: bool = False  # PTB-XL: "> 0" for every statement (see pocketecg.labels)


def read_record(path: str | Path, options: ReadOptions = ReadOptions(), root: Path | None = None) -> Record:
    """Read one ECG file of any supported format, chosen by its content. Raises RecordError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in {".hea", ".dat", ""} or (suffix == ".mat" and path.with_suffix(".hea").is_file()):
        header = record_base(path).with_suffix(".hea")
        if not header.is_file():
            raise RecordError(path, "WFDB signal file without its .hea header")
        comments = read_header_comments(header)
        database = find_database(header, root)
        if database and "dx" not in header_fields(comments) and ecg_id_of(record_base(header), comments):
            return read_ptbxl(header, database, options.allow_missing_leads, options.strict_likelihood)
        return read_wfdb(header, options.allow_missing_leads)
    if path.is_dir():
        raise RecordError(path, "a folder, not an ECG file (predict, evaluate and data check take folders)")
    if not path.is_file():
        raise RecordError(path, "no such file")
    size = path.stat().st_size
    if size == 0:
        raise RecordError(path, "empty file")
    if size > MAX_FILE_BYTES:
        raise RecordError(path, f"file too large for one ECG ({size / 2**20:.0f} MiB)")
    if suffix == ".mat":
        mat = load_mat(path)
        if is_cpsc_original(mat):
            return read_cpsc_original(path, mat)
        if "val" in mat:
            raise RecordError(path, "CinC/WFDB .mat without its .hea header (needed for gain and leads)")
        raise RecordError(path, "not an ECG file: .mat has neither a CPSC 'ECG' struct nor a WFDB 'val' array")
    if suffix in CLINICAL_SUFFIXES or is_dicom(path):
        return read_clinical(path, options.allow_missing_leads)
    if suffix == ".npz":
        raise RecordError(path, "a NumPy .npz archive is not read: save the one 12 x N array with numpy.save (.npy)")
    if suffix in {".csv", ".txt"}:
        return read_csv_record(path, options.fs, options.units, options.allow_missing_leads)
    if suffix == ".npy":
        return read_npy_record(path, options.fs, options.units)
    raise RecordError(path, f"not an ECG file: unsupported file type {suffix or '(none)'!r} "
                      "(expected WFDB .hea/.dat/.mat, CPSC .mat, .csv, .npy, or a clinical export: "
                      ".xml (GE MUSE, HL7 aECG, Philips Sierra), .scp, .dcm, .edf)")


@dataclass(frozen=True)
class Candidate:
    path: Path  # the file to read (a .hea for WFDB records)
    key: str  # stable id: path relative to the scanned folder, without extension
    root: Path


def find_candidates(folders: Iterable[str | Path]) -> list[Candidate]:
    """Files that should be ECG records. Metadata tables (REFERENCE.csv, ptbxl_database.csv...) are not."""
    folders = [Path(f) for f in folders]
    out: list[Candidate] = []
    for root in folders:
        if not root.is_dir():
            raise RecordError(root, "data folder not found")
        prefix = f"{root.resolve().name}/" if len(folders) > 1 else ""
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            names = set(filenames)
            for name in sorted(filenames):
                path = Path(dirpath) / name
                stem, suffix = os.path.splitext(name)
                suffix = suffix.lower()
                wanted = (
                    suffix == ".hea"
                    or (suffix == ".mat" and f"{stem}.hea" not in names)
                    or suffix == ".npy"
                    or (suffix == ".csv" and looks_like_ecg_csv(path))
                    or suffix in CLINICAL_SUFFIXES
                )
                if wanted:
                    key = prefix + path.relative_to(root).with_suffix("").as_posix()
                    out.append(Candidate(path, key, root))
    return out


GLOB_CHARACTERS = set("*?[")


def _record_file(path: Path) -> Path:
    """One path per record: a WFDB record's .dat/.mat is named by its .hea."""
    if path.suffix.lower() in {".dat", ".mat"} and path.with_suffix(".hea").is_file():
        return path.with_suffix(".hea")
    return path


def expand_inputs(inputs: Iterable[str | Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files, folders (searched recursively) and globs -> (one path per record, [(input, problem)]).

    A .hea with its .dat/.mat is one record, however it was named (`A0001.*` gives one path). A
    missing path or a glob that matches nothing is a problem, never an exception.
    """
    import glob

    paths: list[Path] = []
    problems: list[tuple[str, str]] = []
    for item in map(str, inputs):
        if Path(item).exists():
            matches = [item]
        elif GLOB_CHARACTERS & set(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                problems.append((item, "no file matches this pattern"))
        else:
            problems.append((item, "no such file or folder"))
            continue
        for match in map(Path, matches):
            if match.is_dir():
                paths.extend(c.path for c in find_candidates([match]))
            else:
                paths.append(_record_file(match))
    seen: set[Path] = set()
    unique = [p for p in paths if not (p.resolve() in seen or seen.add(p.resolve()))]
    return unique, problems


def candidates_for(inputs: Iterable[str | Path]) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """Folders keep their relative keys (as `prepare` names records); files and globs are keyed by path."""
    candidates, problems = [], []
    for item in inputs:
        if Path(item).is_dir():
            candidates.extend(find_candidates([item]))
            continue
        paths, missing = expand_inputs([item])
        problems += missing
        candidates += [Candidate(p, p.with_suffix("").as_posix(), p.parent) for p in paths]
    return candidates, problems


@dataclass(frozen=True)
class IndexEntry:
    key: str
    path: str
    source: str
    fs: float
    samples: int
    units: str
    labels: frozenset[str] | None
    meta: dict
    warnings: tuple[str, ...]


@dataclass
class ScanResult:
    entries: list[IndexEntry] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, problem)

    @property
    def total(self) -> int:
        return len(self.entries) + len(self.failures)


def read_candidate(candidate: Candidate, options: ReadOptions) -> Record:
    return read_record(candidate.path, options, candidate.root)


def _entry_or_failure(args: tuple[Candidate, ReadOptions]):
    candidate, options = args
    try:
        rec = read_candidate(candidate, options)
    except RecordError as exc:
        return None, (exc.path, exc.problem)
    except Exception as exc:  # a bad record never stops the scan; report it with what went wrong
        return None, (str(candidate.path), f"unexpected error: {exc.__class__.__name__}: {exc}")
    return IndexEntry(candidate.key, rec.path, rec.source, rec.fs, rec.signal.shape[1], rec.units,
                      rec.labels, rec.meta, tuple(rec.warnings)), None


def default_workers() -> int:
    return max(1, min(len(os.sched_getaffinity(0)), 8))


def parallel_map(func, items: list, workers: int | None = None, chunksize: int = 8):
    """Map in worker processes when that pays (decoding FLAC/filters is CPU-bound), in order."""
    workers = default_workers() if workers is None else workers
    if workers <= 1 or len(items) < 16:
        yield from map(func, items)
        return
    # forkserver, not fork: forking a process that runs threads (a web server, a browser driver, torch's
    # pools) copies locks held by those threads and the children can hang on them forever
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["pocketecg.data.scan", "pocketecg.cache"])  # import once, not per worker
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield from pool.map(func, items, chunksize=chunksize)


def scan(folders: Iterable[str | Path], options: ReadOptions = ReadOptions(), workers: int | None = None,
         progress=None, candidates: list[Candidate] | None = None) -> ScanResult:
    """Read every candidate file; `candidates` (from find_candidates) saves a second walk of the folders."""
    candidates = find_candidates(folders) if candidates is None else candidates
    result = ScanResult()
    for entry, failure in parallel_map(_entry_or_failure, [(c, options) for c in candidates], workers):
        if entry is not None:
            result.entries.append(entry)
        else:
            result.failures.append(failure)
        if progress is not None:
            progress()
    return result
