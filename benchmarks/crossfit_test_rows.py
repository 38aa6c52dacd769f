"""Test rows for cross-fitted runs, all under one protocol -> benchmarks/results/crossfit_test_rows.json.

    python benchmarks/crossfit_test_rows.py runs/liteC-kd2-cf3 runs/resnet1d18-s1-final runs/seresnet18-final \
        runs/seresnet34-cf3-all runs/alexnet1d-cf3 runs/squeezenet1d-cf3 runs/resnet1d34-cf3 --cache cache/shared-v2

The first run is the reference. Every run is scored on the cache's test split (read here, after every
choice was made out of fold) in up to two ways, each with thresholds that never saw a test record:
- "final": the run's final model (all train+val records, epochs from the folds) with its out-of-fold
  thresholds — the protocol of the shipped model. Only runs trained without --no-final have one.
- "fold_models": each of the run's K fold models on its own, with the thresholds chosen on the records it
  held out (its config.json), scored by the mean macro-F1 of the K models. Every cross-fitted run has it, so
  every model gets a test row without training a final model (a final seresnet34 costs ~1.5 h on one
  thread here); a run with only some folds (resnet1d34) is the mean of those. Each fold model trained on
  two thirds of the records, so these rows sit below a final model's. (Averaging the K models' probabilities
  instead was tried and dropped: the out-of-fold thresholds, chosen on single-model probabilities, do not
  fit the flatter averaged ones — liteC-kd2 fell from 0.661 to 0.613.)
Each difference to the reference's row of the same kind gets a paired bootstrap CI over test records (for
fold models, every fold model of both runs is scored on the same resample, as for training seeds).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from pocketecg.cache import PreparedCache, PreparedDataset
from pocketecg.crossfit import OOF_FILE
from pocketecg.evaluate import score_records
from pocketecg.inference import decide, load_run, read_config, record_probabilities
from pocketecg.metrics import macro_f1_ci, paired_difference_ci

ROOT = Path(__file__).resolve().parents[1]


def split_probabilities(run_dir: Path, dataset: PreparedDataset, classes: tuple[str, ...]):
    """-> (record ids, targets, probabilities, the run's own thresholds) for the dataset's split."""
    model, config = load_run(run_dir)
    keys, y, p = record_probabilities(model, dataset, None)
    return keys, y, p, np.array([config["thresholds"][c] for c in classes])


def score_run(run: Path, cache: PreparedCache, bootstrap: int) -> dict:
    with np.load(run / OOF_FILE, allow_pickle=False) as oof:
        thresholds = oof["thresholds"]
    folds = sorted(d for d in (run / "folds").glob("fold-*") if (d / "model.pt").is_file())
    config = read_config(folds[0])
    if config["split_manifest_sha256"] != cache.manifest_sha256:
        raise SystemExit(f"{run}: trained on another split manifest than {cache.folder}'s; its test rows would "
                         "not be comparable")
    classes = tuple(config["classes"])
    dataset = PreparedDataset(cache, "test", classes)
    per_fold = [split_probabilities(d, dataset, classes) for d in folds]
    keys, y = per_fold[0][0], per_fold[0][1]
    assert all(np.array_equal(keys, fold[0]) for fold in per_fold)
    members = {"fold_models": [(d.name, p, t) for d, (_, _, p, t) in zip(folds, per_fold)]}
    if (run / "model.pt").is_file():
        members["final"] = [("final", split_probabilities(run, dataset, classes)[2], thresholds)]
    sources = cache.rows("test").drop_duplicates("record").set_index("record")["source"]
    ptbxl = np.char.startswith(np.array([sources[k] for k in keys]).astype(str), "ptbxl")
    out = {"run": str(run), "model": config["model"], "thresholds": dict(zip(classes, thresholds.tolist())),
           "records": keys, "y": y}
    for kind, models in members.items():
        scores = [score_records(y, p, t, classes, 0) for _, p, t in models]
        decisions = np.stack([decide(p, t) for _, p, t in models])
        out[kind] = {"members": [name for name, _, _ in models], "decisions": decisions,
                     "macro_f1": float(np.mean([s["macro_f1"] for s in scores])),
                     "macro_auroc": float(np.mean([s["macro_auroc"] for s in scores])),
                     "macro_f1_ci95": macro_f1_ci(y, decisions, n=bootstrap)}
        for group, rows in (("ptbxl_macro_f1", ptbxl), ("other_sources_macro_f1", ~ptbxl)):
            out[kind][group] = float(np.mean([score_records(y[rows], p[rows], t, classes, 0)["macro_f1"]
                                              for _, p, t in models]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path, help="cross-fitted run folders; the first is the reference")
    ap.add_argument("--cache", default="cache/shared-v2")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "crossfit_test_rows.json")
    args = ap.parse_args()
    cache = PreparedCache(args.cache)
    scored = [score_run(run, cache, args.bootstrap) for run in args.runs]
    ref = scored[0]
    results = {"cache": str(args.cache), "reference": str(ref["run"]), "test_records": int(len(ref["records"])),
               "runs": []}
    for run in scored:
        assert np.array_equal(run["records"], ref["records"])
        row = {"run": run["run"], "model": run["model"], "out_of_fold_thresholds": run["thresholds"]}
        for kind in ("final", "fold_models"):
            if kind not in run:
                continue
            entry = {k: v for k, v in run[kind].items() if k != "decisions"}
            if run is not ref and kind in ref:
                entry["minus_reference"] = paired_difference_ci(ref["y"], run[kind]["decisions"], ref[kind]["decisions"],
                                                                n=args.bootstrap)
            row[kind] = entry
        results["runs"].append(row)
    args.out.write_text(json.dumps(results, indent=2, default=float))
    print(f"{'run':34s} {'kind':14s} {'macro-F1 (95 % CI)':24s} {'minus ref':26s} AUROC  PTB-XL other")
    for row in results["runs"]:
        for kind in ("final", "fold_models"):
            if kind in row:
                e = row[kind]
                d = e.get("minus_reference")
                diff = f"{d['difference']:+.3f} ({d['ci95'][0]:+.3f}..{d['ci95'][1]:+.3f})" if d else ""
                print(f"{row['run']:34s} {kind:14s} {e['macro_f1']:.3f} ({e['macro_f1_ci95'][0]:.3f}-"
                      f"{e['macro_f1_ci95'][1]:.3f})      {diff:26s} {e['macro_auroc']:.3f}  "
                      f"{e['ptbxl_macro_f1']:.3f}  {e['other_sources_macro_f1']:.3f}")


if __name__ == "__main__":
    main()
