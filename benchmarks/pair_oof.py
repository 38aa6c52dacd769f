"""Two or more cross-fitted runs compared on their out-of-fold predictions, paired over the same records.

    python benchmarks/pair_oof.py runs/lite-cf3 runs/lite-kd-cf3 runs/teacher-seresnet18-cf3 \
        --out benchmarks/results/distill_oof.json

The first run is the reference: every other run's macro-F1 minus its macro-F1 gets a paired bootstrap
interval over records (both see the same resample). The runs must share the folds (same cache, K and seed),
which is checked record by record. Each run is scored with its own out-of-fold thresholds, chosen on these
same probabilities: F1 is slightly optimistic for every run alike; AUROC is not affected.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from pocketecg.crossfit import OOF_FILE, OOF_METRICS
from pocketecg.inference import decide
from pocketecg.metrics import macro_f1, paired_difference_ci


def load(run: Path) -> dict:
    with np.load(run / OOF_FILE, allow_pickle=False) as d:
        run_data = {k: d[k] for k in ("records", "folds", "y", "p", "thresholds")}
    return run_data | {"macro_auroc": json.loads((run / OOF_METRICS).read_text())["macro_auroc"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    runs = {str(r): load(r) for r in args.runs}
    ref_name, ref = next(iter(runs.items()))
    report = {"records": int(len(ref["records"])), "reference": ref_name, "runs": {}}
    for name, run in runs.items():
        if not (np.array_equal(run["records"], ref["records"]) and np.array_equal(run["folds"], ref["folds"])):
            raise SystemExit(f"{name}: other records or folds than {ref_name}; pair only runs with the same folds")
        pred = decide(run["p"], run["thresholds"])
        entry = {"macro_f1": macro_f1(run["y"], pred),
                 "macro_auroc": run["macro_auroc"]}
        if name != ref_name:
            entry["minus_reference"] = paired_difference_ci(run["y"], pred, decide(ref["p"], ref["thresholds"]),
                                                            n=args.bootstrap)
        report["runs"][name] = entry
        diff = entry.get("minus_reference")
        print(f"{name}: out-of-fold macro-F1 {entry['macro_f1']:.3f}, macro-AUROC {entry['macro_auroc']:.3f}"
              + (f"; minus {ref_name} {diff['difference']:+.3f} (paired 95 % CI {diff['ci95'][0]:+.3f} to "
                 f"{diff['ci95'][1]:+.3f})" if diff else ""))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
