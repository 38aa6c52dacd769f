"""How a record's 10-s windows are combined, scored out of fold: the mean (shipped) against "any window".

    python benchmarks/window_aggregation.py runs/liteC-kd-cf3 --cache cache/shared-v2 \
        --out benchmarks/results/window_aggregation.json

A 30-60 s CPSC 2018 record is 3-6 windows. Averaging them lets a finding seen in one window (a run of AF,
an intermittent bundle branch block, the window with the ectopic beats that makes the ECG not normal) be
diluted by the clean ones, and a record with PACs in one window can come out "normal". The alternative:
each finding takes its *highest* window probability (present if any window shows it), and SNR its *lowest*
(normal only if every window looks normal). Both are computed from the same per-window out-of-fold
probabilities of a cross-fitted run (fold i's model on fold i's windows: its folds' models must be in the
run folder), thresholds chosen (a) out of sample, on the other folds, and (b) on all out-of-fold records
like `train` does. Paired bootstrap against the mean over records. PTB-XL records are one window each, so
only the multi-window records (CPSC 2018, CinC) can differ; they are reported separately too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from pair_oof import source_groups
from pocketecg import labels as L
from pocketecg.cache import PreparedCache, PreparedDataset
from pocketecg.crossfit import OOF_FILE, POOL
from pocketecg.inference import decide, load_run, window_probabilities
from pocketecg.metrics import choose_thresholds, macro_f1, paired_difference_ci


def per_window_out_of_fold(run: Path, cache: PreparedCache, records: np.ndarray, folds: np.ndarray,
                           classes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """-> (record of each window, probabilities of each window), every window scored by the fold model that
    did not train on it."""
    window_records, window_p = [], []
    for k in np.unique(folds):
        model, _ = load_run(run / "folds" / f"fold-{k}")
        held = PreparedDataset(cache, POOL, classes, set(records[folds == k]))
        order = np.argsort(held.window_index)
        window_p.append(window_probabilities(model, cache.windows[held.window_index[order]], torch.device("cpu")))
        window_records.append(held.records[order])
    return np.concatenate(window_records), np.concatenate(window_p)


def aggregate(records: np.ndarray, window_records: np.ndarray, window_p: np.ndarray, how: str) -> np.ndarray:
    index = np.searchsorted(records, window_records)
    if how == "mean":
        out = np.zeros((len(records), window_p.shape[1]))
        np.add.at(out, index, window_p)
        return out / np.bincount(index, minlength=len(records))[:, None]
    out = np.full((len(records), window_p.shape[1]), -np.inf)
    np.maximum.at(out, index, window_p)  # a finding in any window
    lowest = np.full(len(records), np.inf)
    np.minimum.at(lowest, index, window_p[:, 0])  # normal only if every window is
    out[:, 0] = lowest
    return out


def decisions(y: np.ndarray, p: np.ndarray, folds: np.ndarray) -> dict[str, np.ndarray]:
    out_of_sample = np.zeros(y.shape, bool)
    for k in np.unique(folds):
        fit, held = folds != k, folds == k
        out_of_sample[held] = decide(p[held], choose_thresholds(y[fit], p[fit]))
    return {"thresholds_out_of_sample": out_of_sample, "thresholds_in_sample": decide(p, choose_thresholds(y, p))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path, help="a cross-fitted run with its fold models")
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    torch.set_num_threads(2)
    with np.load(args.run / OOF_FILE, allow_pickle=False) as d:
        records, folds, y, p_saved = d["records"].astype(str), d["folds"], d["y"], d["p"]
    classes = L.preset_classes("six")
    cache = PreparedCache(args.cache)
    window_records, window_p = per_window_out_of_fold(args.run, cache, records, folds, classes)
    p = {how: aggregate(records, window_records, window_p, how) for how in ("mean", "any_window")}
    # the mean must reproduce what crossfit saved, or the windows are not the ones it scored
    drift = float(np.abs(p["mean"] - p_saved).max())
    if drift > 1e-4:
        raise SystemExit(f"per-window mean differs from the saved out-of-fold probabilities by {drift:.2g}")
    groups = source_groups(args.cache, records)
    n_windows = np.bincount(np.searchsorted(records, window_records), minlength=len(records))
    subsets = {"all": np.ones(len(records), bool), "CPSC 2018 + CinC": groups == "CPSC 2018 + CinC",
               "multi-window records": n_windows > 1}
    report = {"run": str(args.run), "records": len(records), "windows": len(window_records),
              "multi_window_records": int((n_windows > 1).sum()), "saved_mean_max_abs_difference": drift,
              "results": {}}
    mean_pred, any_pred = decisions(y, p["mean"], folds), decisions(y, p["any_window"], folds)
    for protocol in mean_pred:
        for name, inside in subsets.items():
            a, m = any_pred[protocol][inside], mean_pred[protocol][inside]
            entry = {"records": int(inside.sum()), "mean": macro_f1(y[inside], m),
                     "any_window": macro_f1(y[inside], a),
                     "any_window_minus_mean": paired_difference_ci(y[inside], a, m, n=args.bootstrap)}
            report["results"].setdefault(protocol, {})[name] = entry
            d = entry["any_window_minus_mean"]
            print(f"{protocol}, {name} ({entry['records']}): mean {entry['mean']:.3f}, any window "
                  f"{entry['any_window']:.3f} ({d['difference']:+.3f}, {d['ci95'][0]:+.3f} to {d['ci95'][1]:+.3f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
