"""Measure the clinical-format readers on the real samples in ../shared/formats -> benchmarks/results/read_formats.json.

    python benchmarks/read_formats.py [--formats ../shared/formats]

Per file: pocketecg's read time (median of 5, whole read_record: parse, scale, lead order, checks), leads
stored, rate, and what ecgdatakit alone returns (NaN samples). Also: import time of each library in a fresh
interpreter and installed size, for the choice written in docs/formats.md.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from pocketecg.data import read_record

ROOT = Path(__file__).resolve().parents[1]


def import_seconds(module: str, runs: int = 5) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return statistics.median(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                  check=True).stdout) for _ in range(runs))


def installed_kib(distribution: str) -> float:
    files = md.distribution(distribution).files or []
    return round(sum((f.size or 0) for f in files) / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--formats", default=str(ROOT.parent / "shared" / "formats"))
    args = parser.parse_args()
    from ecgdatakit import FileParser

    rows = []
    for path in sorted(Path(args.formats).glob("*/*")):
        if path.parent.name == "licenses":
            continue
        times = []
        for _ in range(5):
            t = time.perf_counter()
            record = read_record(path)
            times.append(time.perf_counter() - t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = FileParser.parse(path)
        nan = int(sum(np.isnan(np.asarray(lead.samples, float)).sum() for lead in parsed.leads))
        rows.append({"file": f"{path.parent.name}/{path.name}", "source": record.source, "fs": record.fs,
                     "seconds": record.seconds, "leads_stored": 12 - len(record.derived_leads),
                     "read_ms_median": round(1000 * statistics.median(times), 1),
                     "ecgdatakit_nan_samples": nan, "pocketecg_zero_samples": int((record.signal == 0).sum())})
        print(rows[-1])
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "files": rows,
        "import_seconds": {m: round(import_seconds(m), 3) for m in ("ecgdatakit", "pydicom", "pyedflib", "wfdb")
                           if importlib_ok(m)},
        "installed_kib": {d: installed_kib(d) for d in ("ecgdatakit", "defusedxml", "xmltodict", "pydicom", "pyedflib")
                          if dist_ok(d)},
        "versions": {d: md.version(d) for d in ("ecgdatakit", "pydicom") if dist_ok(d)},
    }
    out = ROOT / "benchmarks" / "results" / "read_formats.json"
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: report[k] for k in ("import_seconds", "installed_kib", "versions")}, indent=2))
    print(f"wrote {out}")


def importlib_ok(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def dist_ok(name: str) -> bool:
    try:
        md.distribution(name)
        return True
    except md.PackageNotFoundError:
        return False


if __name__ == "__main__":
    main()
