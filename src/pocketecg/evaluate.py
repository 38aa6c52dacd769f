"""Score a finished run on one split: run dir -> metrics.json + ROC curves + confusion matrices (PNG).

Records longer than the window are scored over all their windows: the record's probability for a
class is the mean of its windows' probabilities, compared with the class threshold chosen on the
validation split at training time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pocketecg import labels as L
from pocketecg.cache import PreparedCache, PreparedDataset
from pocketecg.metrics import bootstrap_ci, cpsc2018_scores, macro_f1, per_class_scores, single_label
from pocketecg.train import load_run, record_probabilities


def metrics_file(split: str) -> str:
    return "metrics.json" if split == "test" else f"metrics-{split}.json"


def evaluate_run(run_dir: str | Path, split: str = "test", cache: str | Path | None = None,
                 bootstrap: int = 1000, plots: bool = True) -> dict:
    import torch

    run_dir = Path(run_dir)
    model, config = load_run(run_dir)
    cache = PreparedCache(cache or config["cache"])
    if cache.manifest_sha256 != config["split_manifest_sha256"]:
        raise ValueError(f"{cache.folder}: its split manifest differs from the one {run_dir} was trained on; "
                         "scores would not be comparable")
    classes = tuple(config["classes"])
    dataset = PreparedDataset(cache, split, classes)
    if len(dataset) == 0:
        raise ValueError(f"{cache.folder}: no labelled records in split {split!r}")
    records, y, p = record_probabilities(model, dataset, torch.device("cpu"))
    thresholds = np.array([config["thresholds"][c] for c in classes])
    pred = p >= thresholds
    per_class = per_class_scores(y, p, thresholds, classes)
    result = {
        "run": str(run_dir),
        "model": config["model"],
        "split": split,
        "records": int(len(records)),
        "classes": list(classes),
        "macro_f1": macro_f1(y, pred),
        "macro_auroc": float(np.nanmean([s["auroc"] for s in per_class.values()])),
        "per_class": per_class,
        "ci95": bootstrap_ci(y, p, thresholds, n=bootstrap) if bootstrap else None,
        "window_aggregation": config.get("window_aggregation", "mean"),
        "thresholds_from": "validation split (chosen at training time)",
    }
    if classes == L.CLASSES:
        result["cpsc2018"] = cpsc2018_scores(y.astype(int), single_label(p, thresholds))
    (run_dir / metrics_file(split)).write_text(json.dumps(result, indent=2))
    # record ids as plain strings, so the file loads without pickle
    np.savez_compressed(run_dir / f"predictions-{split}.npz", records=np.asarray(records, dtype=str), y=y, p=p,
                        thresholds=thresholds)
    if plots:
        plot_roc(y, p, classes, run_dir / f"roc-{split}.png", f"{config['model']} - {split} ROC")
        plot_confusion(result["per_class"], classes, run_dir / f"confusion-{split}.png",
                       f"{config['model']} - {split} confusion matrices (thresholds from validation)")
    return result


def plot_roc(y: np.ndarray, p: np.ndarray, classes, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = plt.subplots(figsize=(5.5, 5))
    for j, c in enumerate(classes):
        if 0 < y[:, j].sum() < len(y):
            fpr, tpr, _ = roc_curve(y[:, j], p[:, j])
            ax.plot(fpr, tpr, label=f"{c} (AUC {roc_auc_score(y[:, j], p[:, j]):.3f}, n={int(y[:, j].sum())})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title, xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_confusion(per_class: dict, classes, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(len(classes), 5)
    rows = int(np.ceil(len(classes) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.flat[len(classes):]:
        ax.axis("off")
    for ax, c in zip(axes.flat, classes):
        s = per_class[c]
        m = np.array([[s["tn"], s["fp"]], [s["fn"], s["tp"]]])
        ax.imshow(m, cmap="Blues")
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, str(v), ha="center", va="center", color="black" if v < m.max() * 0.6 else "white")
        ax.set(title=f"{c} (F1 {s['f1']:.2f})", xticks=[0, 1], yticks=[0, 1], xticklabels=["no", "yes"],
               yticklabels=["no", "yes"], xlabel="predicted", ylabel="true")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
