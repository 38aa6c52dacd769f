"""Do a model's findings transfer across sources? Out-of-fold predictions split by source group.

    python benchmarks/source_transfer.py benchmarks/results/runs/liteC-cf3 benchmarks/results/runs/resnet1d18-cf3 \
        --cache cache/shared-v2 --data ../shared/data --out benchmarks/results/source_transfer.json \
        --figure docs/figures/cpsc-rbbb-beats.png

The project's worry is data nobody here has seen: a hospital set is not PTB-XL, yet 89 % of the
out-of-fold records are. For each run and each source group (PTB-XL; CPSC 2018 + CinC) this reports:
- AUROC per class: how well the model *ranks* records of that source, whatever the thresholds;
- macro-F1 with the run's pooled out-of-fold thresholds (what ships);
- macro-F1 with thresholds chosen on the *other* group only: a stand-in for a site whose records were never
  used to choose anything (the honest transfer number);
- macro-F1 with thresholds chosen on the group itself: an optimistic ceiling (chosen on the records scored),
  the gap to which is what re-choosing thresholds on one's own population could buy.
Then two threshold policies, each scored *out of sample*: thresholds chosen on the other K-1 folds' out-of-fold
probabilities, applied to fold k (so no record helps choose its own threshold; this removes the optimism of
the in-sample numbers above): "pooled" maximises each class's F1 over all records (what `train` does),
"source-balanced" the mean of the two groups' F1, so that the 256 non-PTB-XL records weigh as much as the
2,016 PTB-XL ones. Paired bootstrap of balanced minus pooled, overall and per group.
It counts the records whose only findings are outside the six (PAC, PVC, STE) that are called normal, and
lists the CPSC 2018 RBBB records each run misses, and with --figure draws median beats (I, V1, V6)
of the CPSC 2018 RBBB records the first run finds and misses, to look at what the labels mean.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score

from pair_oof import load, source_groups
from pocketecg.inference import decide
from pocketecg.metrics import choose_thresholds, f1_per_class, macro_f1, paired_difference_ci

CLASSES = ("SNR", "AF", "IAVB", "LBBB", "RBBB", "STD")
RBBB = CLASSES.index("RBBB")
OUTSIDE = ("PAC", "PVC", "STE")


def auroc(y: np.ndarray, p: np.ndarray) -> float | None:
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None


def by_group(run: dict, groups: np.ndarray) -> dict:
    y, p = run["y"], run["p"]
    out = {}
    for group in sorted(set(groups)):
        inside = groups == group
        own = choose_thresholds(y[inside], p[inside])
        other = choose_thresholds(y[~inside], p[~inside])
        entry = {"records": int(inside.sum()),
                 "positives": dict(zip(CLASSES, y[inside].sum(0).astype(int).tolist())),
                 "auroc": {c: auroc(y[inside, j], p[inside, j]) for j, c in enumerate(CLASSES)}}
        for name, thresholds in (("pooled", run["thresholds"]), ("other_group", other), ("own_group", own)):
            pred = decide(p[inside], thresholds)
            entry[name] = {"thresholds": dict(zip(CLASSES, np.round(thresholds, 2).tolist())),
                           "macro_f1": macro_f1(y[inside], pred),
                           "f1": dict(zip(CLASSES, np.round(f1_per_class(y[inside], pred), 3).tolist()))}
        out[group] = entry
    return out


def choose_balanced(y: np.ndarray, p: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Per class, the threshold maximising the mean over source groups of that class's F1 (ties nearest 0.5)."""
    grid = np.round(np.arange(0.02, 0.99, 0.01), 2)
    out = np.full(y.shape[1], 0.5)
    for j in range(y.shape[1]):
        scores = np.zeros(len(grid))
        for group in sorted(set(groups)):
            inside = groups == group
            scores += [f1_score(y[inside, j], p[inside, j] >= t, zero_division=0.0) for t in grid]
        best = np.flatnonzero(scores == scores.max())
        out[j] = grid[best[np.argmin(np.abs(grid[best] - 0.5))]]
    return out


def threshold_policies(run: dict, groups: np.ndarray, bootstrap: int) -> dict:
    """Pooled and source-balanced thresholds, each chosen on the other folds and applied to fold k."""
    y, p, folds = run["y"], run["p"], run["folds"]
    pred = {"pooled": np.zeros(y.shape, bool), "source_balanced": np.zeros(y.shape, bool)}
    for k in np.unique(folds):
        fit, held = folds != k, folds == k
        pred["pooled"][held] = decide(p[held], choose_thresholds(y[fit], p[fit]))
        pred["source_balanced"][held] = decide(p[held], choose_balanced(y[fit], p[fit], groups[fit]))
    out = {}
    for group in ["all", *sorted(set(groups))]:
        inside = np.ones(len(y), bool) if group == "all" else groups == group
        out[group] = {name: macro_f1(y[inside], v[inside]) for name, v in pred.items()}
        out[group]["balanced_minus_pooled"] = paired_difference_ci(
            y[inside], pred["source_balanced"][inside], pred["pooled"][inside], n=bootstrap)
    return out


def cpsc_rbbb(run: dict, records: list[str]) -> list[dict]:
    """CPSC 2018 RBBB records with their out-of-fold probabilities, lowest RBBB probability first."""
    rows = [{"record": r, "p_rbbb": round(float(run["p"][i, RBBB]), 3),
             "p_snr": round(float(run["p"][i, 0]), 3), "found": bool(run["p"][i, RBBB] >= run["thresholds"][RBBB])}
            for i, r in enumerate(records) if r.startswith("cpsc2018/") and run["y"][i, RBBB] == 1]
    return sorted(rows, key=lambda row: row["p_rbbb"])


def outside_six_called_normal(run: dict, cache: Path, groups: np.ndarray) -> dict:
    """Per group: records whose only CPSC findings are outside the six (PAC, PVC, STE), and how many of
    them the pooled thresholds call SNR (a normal ECG): the not-assessed classes leaking into "normal"."""
    with open(cache / "manifest.csv", newline="") as fh:
        rows = {row["record"]: row for row in csv.DictReader(fh) if row["primary"] == "1"}
    said_normal = decide(run["p"], run["thresholds"])[:, 0]
    out = {}
    for group in sorted(set(groups)):
        idx = [i for i, r in enumerate(run["records"]) if groups[i] == group
               and any(rows[str(r)][c] == "1" for c in OUTSIDE) and run["y"][i].sum() == 0]
        out[group] = {"records": len(idx), "called_normal": int(said_normal[idx].sum())}
    return out


def record_file(data: Path, record: str) -> Path:
    for suffix in (".hea", ".mat"):
        if (data / (record + suffix)).exists():
            return data / (record + suffix)
    raise FileNotFoundError(f"{record}: no .hea or .mat under {data}")


def median_beat(path: Path) -> tuple[np.ndarray, tuple[str, ...], float, int]:
    """The 12-lead median beat around lead II's QRS detections (wfdb's XQRS), band-passed 0.5-40 Hz."""
    import wfdb.processing
    from scipy.signal import butter, sosfiltfilt

    from pocketecg.data import read_record

    record = read_record(path)
    fs = record.fs
    x = sosfiltfilt(butter(3, [0.5, 40], btype="band", fs=fs, output="sos"), record.signal, axis=1)
    peaks = wfdb.processing.xqrs_detect(x[record.leads.index("II")], fs=fs, verbose=False)
    before, after = int(0.25 * fs), int(0.4 * fs)
    beats = [x[:, q - before:q + after] for q in peaks if q >= before and q + after <= x.shape[1]]
    return np.median(np.stack(beats), axis=0), record.leads, fs, before


def draw_beats(rows: list[dict], data: Path, figure: Path, n_each: int = 4) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = [r for r in reversed(rows) if r["found"]][:n_each]  # the most confident finds
    missed = [r for r in rows if not r["found"]][:n_each]  # the most confident misses
    chosen = found + missed
    fig, axes = plt.subplots(len(chosen), 3, figsize=(7.5, 1.45 * len(chosen)), sharex=True)
    for row, entry in enumerate(chosen):
        beat, leads, fs, before = median_beat(record_file(data, entry["record"]))
        t = (np.arange(beat.shape[1]) - before) / fs * 1000
        for col, lead in enumerate(("I", "V1", "V6")):
            ax = axes[row, col]
            ax.plot(t, beat[leads.index(lead)], lw=1, color="black")
            ax.axvspan(-60, 60, color="tab:orange", alpha=0.12, lw=0)  # 120 ms: complete-RBBB QRS width
            ax.grid(True, alpha=0.3)
            ax.tick_params(labelsize=6)
            verdict = "found" if entry["found"] else "MISSED"
            ax.set_title(f"{entry['record'].split('/')[-1]} {lead}: {verdict}, p(RBBB) {entry['p_rbbb']:.2f}",
                         fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("ms from QRS (shaded: 120 ms)", fontsize=7)
    fig.suptitle("CPSC 2018 records labelled RBBB: median beats, out-of-fold finds and misses", fontsize=8)
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=72)
    return [r["record"] for r in chosen]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--data", type=Path, help="the records' folder, for --figure")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--figure", type=Path)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    report = {"runs": {}}
    first_rows = None
    for run_dir in args.runs:
        run = load(run_dir)
        records = [str(r) for r in run["records"]]
        groups = source_groups(args.cache, run["records"])
        rows = cpsc_rbbb(run, records)
        first_rows = first_rows or rows
        entry = {"per_source": by_group(run, groups),
                 "thresholds_out_of_sample": threshold_policies(run, groups, args.bootstrap), "cpsc2018_rbbb": rows,
                 "outside_six_called_normal": outside_six_called_normal(run, args.cache, groups)}
        report["runs"][str(run_dir)] = entry
        print(run_dir)
        for group, g in entry["per_source"].items():
            aurocs = " ".join(f"{c} {v:.3f}" for c, v in g["auroc"].items() if v is not None)
            print(f"  {group} ({g['records']}): AUROC {aurocs}")
            print(f"    macro-F1 pooled thresholds {g['pooled']['macro_f1']:.3f}, other group's "
                  f"{g['other_group']['macro_f1']:.3f}, own (optimistic) {g['own_group']['macro_f1']:.3f}")
        for group, g in entry["thresholds_out_of_sample"].items():
            d = g["balanced_minus_pooled"]
            print(f"  thresholds out of sample, {group}: pooled {g['pooled']:.3f}, source-balanced "
                  f"{g['source_balanced']:.3f} ({d['difference']:+.3f}, {d['ci95'][0]:+.3f} to {d['ci95'][1]:+.3f})")
        for group, g in entry["outside_six_called_normal"].items():
            print(f"  {group}: {g['called_normal']} of {g['records']} records with only PAC/PVC/STE called normal")
        missed = [r for r in rows if not r["found"]]
        print(f"  CPSC 2018 RBBB records missed: {len(missed)} of {len(rows)}")
    if args.figure:
        if not args.data:
            raise SystemExit("--figure needs --data (the records' folder)")
        report["figure"] = {"path": str(args.figure), "records": draw_beats(first_rows, args.data, args.figure),
                            "run": str(args.runs[0])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
