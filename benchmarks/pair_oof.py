"""Two or more cross-fitted runs compared on their out-of-fold predictions, paired over the same records.

    python benchmarks/pair_oof.py runs/lite-cf3 runs/lite-kd-cf3 runs/teacher-seresnet18-cf3 \
        --out benchmarks/results/distill_oof.json

The first run is the reference: every other run's macro-F1 minus its macro-F1 gets a paired bootstrap
interval over records (both see the same resample). The runs must share the folds (same cache, K and fold seed),
which is checked record by record. Each run is scored with its own out-of-fold thresholds, chosen on these
same probabilities: F1 is slightly optimistic for every run alike; AUROC is not affected.
A run that trained only some folds (`pocketecg train --crossfit K --folds ...`, for models too costly for
all K) is paired on the records those folds hold out: every run is cut to the records all runs share, and
then every run's thresholds are chosen again on those records, so that none keeps thresholds fitted on more
(or other) records than the rest.
With --cache, the same is reported per source group (PTB-XL, and CPSC 2018 + CinC: the sources the
project's users mostly bring), thresholds still the run's pooled ones: a model can win on the pooled
records, 90 % PTB-XL, and lose on the rest.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from pocketecg.crossfit import OOF_FILE, OOF_METRICS
from pocketecg.inference import decide
from pocketecg.metrics import bootstrap_ci, choose_thresholds, macro_f1, paired_difference_ci, per_class_scores


def load(run: Path) -> dict:
    with np.load(run / OOF_FILE, allow_pickle=False) as d:
        run_data = {k: d[k] for k in ("records", "folds", "y", "p", "thresholds")}
    return run_data | {"macro_auroc": json.loads((run / OOF_METRICS).read_text())["macro_auroc"]}


def on_shared_records(runs: dict[str, dict]) -> tuple[dict[str, dict], bool]:
    """Every run cut to the records all of them have; thresholds re-chosen there if any run was cut."""
    shared = set.intersection(*(set(r["records"].tolist()) for r in runs.values()))
    if all(len(r["records"]) == len(shared) for r in runs.values()):
        return runs, False
    keys = np.array(sorted(shared))
    cut = {}
    for name, run in runs.items():
        index = np.searchsorted(run["records"], keys)
        y, p = run["y"][index], run["p"][index]
        thresholds = choose_thresholds(y, p)
        auroc = float(np.nanmean([s["auroc"] for s in per_class_scores(y, p, thresholds, tuple(range(y.shape[1]))).values()]))
        cut[name] = {"records": keys, "folds": run["folds"][index], "y": y, "p": p, "thresholds": thresholds,
                     "macro_auroc": auroc}
    return cut, True


def source_groups(cache: Path, records: np.ndarray) -> np.ndarray:
    """Per record, "PTB-XL" or "CPSC 2018 + CinC", from the cache manifest's source column."""
    with open(cache / "manifest.csv", newline="") as fh:
        source = {row["record"]: row["source"] for row in csv.DictReader(fh)}
    return np.array(["PTB-XL" if source[str(r)].startswith("ptbxl") else "CPSC 2018 + CinC" for r in records])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--cache", type=Path, help="the runs' cache: adds the comparison per source group")
    args = ap.parse_args()
    runs, cut = on_shared_records({str(r): load(r) for r in args.runs})
    ref_name, ref = next(iter(runs.items()))
    report = {"records": int(len(ref["records"])), "reference": ref_name, "runs": {}}
    if cut:
        report["note"] = (f"runs cover different folds: all are scored on the {len(ref['records'])} records they "
                          f"share (folds {sorted(set(ref['folds'].tolist()))}), thresholds re-chosen there per run")
        print(report["note"])
    groups = source_groups(args.cache, ref["records"]) if args.cache else None
    ref_pred = decide(ref["p"], ref["thresholds"])
    for name, run in runs.items():
        if not (np.array_equal(run["records"], ref["records"]) and np.array_equal(run["folds"], ref["folds"])):
            raise SystemExit(f"{name}: other records or folds than {ref_name}; pair only runs with the same folds")
        pred = decide(run["p"], run["thresholds"])
        entry = {"macro_f1": macro_f1(run["y"], pred),
                 "macro_f1_ci95": bootstrap_ci(run["y"], run["p"], run["thresholds"], n=args.bootstrap)["macro_f1"],
                 "macro_auroc": run["macro_auroc"]}
        if name != ref_name:
            entry["minus_reference"] = paired_difference_ci(run["y"], pred, ref_pred, n=args.bootstrap)
        for group in ([] if groups is None else sorted(set(groups))):
            inside = groups == group
            by_group = entry.setdefault("per_source", {})[group] = {
                "records": int(inside.sum()), "macro_f1": macro_f1(run["y"][inside], pred[inside])}
            if name != ref_name:
                by_group["minus_reference"] = paired_difference_ci(run["y"][inside], pred[inside],
                                                                   ref_pred[inside], n=args.bootstrap)
        report["runs"][name] = entry
        diff = entry.get("minus_reference")
        print(f"{name}: out-of-fold macro-F1 {entry['macro_f1']:.3f} ({entry['macro_f1_ci95'][0]:.3f}-"
              f"{entry['macro_f1_ci95'][1]:.3f}), macro-AUROC {entry['macro_auroc']:.3f}"
              + (f"; minus {ref_name} {diff['difference']:+.3f} (paired 95 % CI {diff['ci95'][0]:+.3f} to "
                 f"{diff['ci95'][1]:+.3f})" if diff else ""))
        for group, g in entry.get("per_source", {}).items():
            d = g.get("minus_reference")
            print(f"  {group} ({g['records']} records): {g['macro_f1']:.3f}"
                  + (f", minus reference {d['difference']:+.3f} ({d['ci95'][0]:+.3f} to {d['ci95'][1]:+.3f})"
                     if d else ""))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
