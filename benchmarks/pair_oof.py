"""Two or more cross-fitted runs compared on their out-of-fold predictions, paired over the same records.

    python benchmarks/pair_oof.py runs/lite-cf3 runs/lite-kd-cf3 runs/teacher-seresnet18-cf3 \
        --out benchmarks/results/distill_oof.json
    python benchmarks/pair_oof.py runs/a-s0,runs/a-s1 runs/b-s0,runs/b-s1 --out results/seeds.json

The first run is the reference: every other run's macro-F1 minus its macro-F1 gets a paired bootstrap
interval over records (both see the same resample). The runs must share the folds (same cache, K and fold seed),
which is checked record by record. Each run is scored with its own out-of-fold thresholds, chosen on these
same probabilities: F1 is slightly optimistic for every run alike; AUROC is not affected.
A run that trained only some folds (`pocketecg train --crossfit K --folds ...`, for models too costly for
all K) is paired on the records those folds hold out: every run is cut to the records all runs share, and
then every run's thresholds are chosen again on those records, so that none keeps thresholds fitted on more
(or other) records than the rest.
An argument RUN,RUN,... is one recipe trained with several seeds on the same folds (`--seed N --fold-seed 0`):
it is scored by its seeds' mean macro-F1, and the paired interval resamples records once for all seeds of
both recipes, so seed-to-seed noise is averaged instead of resting on one draw.
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
from pocketecg.metrics import (choose_thresholds, macro_f1, macro_f1_ci, paired_difference_ci, per_class_scores,
                               seed_mean_macro_f1)


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


def recipes_of(args: list[str]) -> dict[str, list[Path]]:
    """Each argument is one recipe: a run, or several training seeds of it joined by commas."""
    return {arg: [Path(r) for r in arg.split(",") if r] for arg in args}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", help="cross-fitted runs; RUN,RUN,... for several seeds of one recipe "
                                            "(scored by their mean macro-F1, paired on the same resamples)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--cache", type=Path, help="the runs' cache: adds the comparison per source group")
    args = ap.parse_args()
    recipes = recipes_of(args.runs)
    runs, cut = on_shared_records({str(r): load(r) for paths in recipes.values() for r in paths})
    ref_name, ref = next(iter(recipes)), next(iter(runs.values()))
    report = {"records": int(len(ref["records"])), "reference": ref_name, "runs": {}}
    if cut:
        report["note"] = (f"runs cover different folds: all are scored on the {len(ref['records'])} records they "
                          f"share (folds {sorted(set(ref['folds'].tolist()))}), thresholds re-chosen there per run")
        print(report["note"])
    for name, run in runs.items():
        if not (np.array_equal(run["records"], ref["records"]) and np.array_equal(run["folds"], ref["folds"])):
            raise SystemExit(f"{name}: other records or folds than {ref_name}; pair only runs with the same folds")
    y = ref["y"]
    groups = source_groups(args.cache, ref["records"]) if args.cache else None
    # per recipe, its seeds' decisions (seeds x records x classes), each seed with its own thresholds
    decisions = {name: np.stack([decide(runs[str(r)]["p"], runs[str(r)]["thresholds"]) for r in paths])
                 for name, paths in recipes.items()}
    for name, paths in recipes.items():
        pred = decisions[name]
        entry = {"macro_f1": seed_mean_macro_f1(y, pred), "macro_f1_ci95": macro_f1_ci(y, pred, n=args.bootstrap),
                 "macro_auroc": float(np.mean([runs[str(r)]["macro_auroc"] for r in paths]))}
        if len(paths) > 1:
            entry["seeds"] = {str(r): macro_f1(y, p) for r, p in zip(paths, pred)}
        if name != ref_name:
            entry["minus_reference"] = paired_difference_ci(y, pred, decisions[ref_name], n=args.bootstrap)
        for group in ([] if groups is None else sorted(set(groups))):
            inside = groups == group
            by_group = entry.setdefault("per_source", {})[group] = {
                "records": int(inside.sum()), "macro_f1": seed_mean_macro_f1(y[inside], pred[:, inside])}
            if name != ref_name:
                by_group["minus_reference"] = paired_difference_ci(y[inside], pred[:, inside],
                                                                   decisions[ref_name][:, inside], n=args.bootstrap)
        report["runs"][name] = entry
        diff = entry.get("minus_reference")
        print(f"{name}: out-of-fold macro-F1 {entry['macro_f1']:.3f} ({entry['macro_f1_ci95'][0]:.3f}-"
              f"{entry['macro_f1_ci95'][1]:.3f}), macro-AUROC {entry['macro_auroc']:.3f}"
              + (f" (seeds: {', '.join(f'{v:.3f}' for v in entry['seeds'].values())})" if "seeds" in entry else "")
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
