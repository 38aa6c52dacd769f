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
from pocketecg.data.cpsc import reference_label_orders
from pocketecg.metrics import bootstrap_ci, cpsc2018_scores, macro_f1, per_class_scores, single_label
from pocketecg.inference import decide, load_run, record_probabilities


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
    pred = decide(p, thresholds)
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
        "thresholds_from": config.get("thresholds_from", "validation split (chosen at training time)"),
    }
    recording_of = dict(zip(dataset.rows["record"], dataset.rows["recording"]))
    cpsc = cpsc2018_rule([recording_of[r] for r in records], y, p, thresholds, classes,
                         reference_label_orders(cache.info.get("sources", [])))
    if cpsc is not None:
        result["cpsc2018"] = cpsc
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


# ---------------------------------------------------------------- any model on any labelled folder
def _finite_or_none(value):
    """JSON has no NaN: a score that cannot be computed is null (and said so in a note)."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


def score_records(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray, classes: tuple[str, ...],
                  bootstrap: int = 1000) -> dict:
    """Per-class and macro scores; a class without positives is "n/a" and left out of the macro average."""
    per_class = per_class_scores(y, p, thresholds, classes)
    scored = [j for j, c in enumerate(classes) if per_class[c]["positives"] > 0]
    notes = []
    for j, c in enumerate(classes):
        if j not in scored:
            per_class[c].update(f1="n/a", recall="n/a", auroc="n/a", auprc="n/a")
            notes.append(f"{c}: no positive record here, so F1, recall, AUROC and AUPRC are n/a and {c} is left "
                         "out of the macro averages")
    pred = decide(p, thresholds)
    sub = np.array(scored, dtype=int)
    out = {"records": int(len(y)), "classes_scored": [classes[j] for j in scored],
           "macro_f1": macro_f1(y[:, sub], pred[:, sub]) if len(sub) else None,
           "macro_auroc": (float(np.nanmean([per_class[classes[j]]["auroc"] for j in scored]))
                           if scored and any(np.isfinite(per_class[classes[j]]["auroc"]) for j in scored) else None),
           "per_class": per_class, "notes": notes}
    if bootstrap and len(sub) and len(y) > 1:
        ci = bootstrap_ci(y[:, sub], p[:, sub], thresholds[sub], n=bootstrap)
        out["ci95"] = {"macro_f1": ci["macro_f1"],
                       "f1": {classes[j]: ci["f1"][i] for i, j in enumerate(scored)},
                       "auroc": {classes[j]: ci["auroc"][i] for i, j in enumerate(scored)}, "resamples": bootstrap}
    return out


def cpsc2018_rule(recordings, y: np.ndarray, p: np.ndarray, thresholds: np.ndarray, classes: tuple[str, ...],
                  orders: dict[str, tuple[str, ...]]) -> dict | None:
    """The CPSC 2018 challenge score on the records whose label order is known (CPSC 2018 records with a
    REFERENCE.csv): one answer per record (`single_label`), a wrong one counted against the first label.
    None when no record has a known order."""
    ordered, answers, mismatched, outside = [], [], 0, 0
    for recording, labels, answer in zip(recordings, y, single_label(p, thresholds)):
        order = orders.get(recording)
        if order is None:
            continue
        idx = [classes.index(c) for c in order if c in classes]
        if set(idx) != set(np.flatnonzero(labels).tolist()):
            mismatched += 1  # this copy's labels are not the reference's: do not score it by the reference
        elif not idx:
            outside += 1
        else:
            ordered.append(idx)
            answers.append(int(answer))
    if not ordered:
        return None
    out = cpsc2018_scores(ordered, np.array(answers), classes)
    out["rule"] = ("one answer per record: the class furthest above (or least below) its threshold; correct "
                   "when it is one of the record's labels, else counted against the record's first label "
                   "(REFERENCE.csv First_label), as the challenge's scoring script")
    out["records_outside_classes"] = outside
    out["records_labels_differ_from_reference"] = mismatched
    return out


def evaluate_folders(folders: list[str | Path], model: str = "shipped", csv_path: str | Path | None = None,
                     out: str | Path | None = None, bootstrap: int = 1000, progress=None,
                     references: list[str | Path] = ()) -> dict:
    """Score a model (`shipped`, a run directory or an .onnx file) on labelled folders.

    Labels are read as `data check` reads them; unlabelled records are counted and skipped. Each
    recording is scored once: of several copies (CPSC .mat and its CinC copy, PTB-XL forms) the one
    training would use is kept. Files that cannot be read are listed, never fatal. The CPSC 2018
    challenge score is added for records whose label order is known: from a REFERENCE.csv under the
    folders or in `references` (the WFDB copies of CPSC 2018 list their labels sorted, not in order).
    """
    import csv

    from pocketecg.cache import copy_rank
    from pocketecg.data.record import RecordError
    from pocketecg.data.scan import ReadOptions, candidates_for, read_candidate
    from pocketecg.predict import Predictor

    predictor = Predictor.shipped() if model == "shipped" else Predictor.from_path(model)
    classes = predictor.classes
    thresholds = np.array([predictor.thresholds[c] for c in classes])
    candidates, missing = candidates_for(folders)
    if missing:
        raise ValueError("; ".join(f"{item}: {problem}" for item, problem in missing))
    chosen: dict[str, tuple] = {}  # recording -> (rank, key, source, labels, probabilities)
    for reference in map(Path, references):
        if not reference.is_file():
            raise ValueError(f"{reference}: no such REFERENCE.csv")
    orders = reference_label_orders([*(f for f in map(Path, folders) if f.is_dir()), *references])
    failures, unlabelled = [], 0
    for candidate in candidates:
        try:
            record = read_candidate(candidate, ReadOptions())
            if record.labels is None:
                unlabelled += 1
                continue
            prediction = predictor.predict_record(record, str(candidate.path))
        except RecordError as exc:
            failures.append({"path": exc.path, "problem": exc.problem})
            continue
        finally:
            if progress is not None:
                progress()
        recording = record.recording or f"file:{candidate.key}"
        if record.label_order is not None:
            orders.setdefault(recording, record.label_order)
        rank = copy_rank({"labels": record.labels, "source": record.source, "record": candidate.key})  # as prepare
        if recording not in chosen or rank < chosen[recording][0]:
            chosen[recording] = (rank, candidate.key, record.source, record.labels,
                                 np.array([prediction.probabilities[c] for c in classes]))  # already aggregated
    recordings = sorted(chosen, key=lambda r: chosen[r][1])
    rows = [chosen[r] for r in recordings]
    if not rows:
        raise ValueError(f"no labelled, readable records in {', '.join(map(str, folders))}")
    y = np.stack([L.to_vector(r[3], classes) for r in rows])
    p = np.stack([r[4] for r in rows])
    sources = np.array([r[2] for r in rows])
    result = {"model": predictor.description, "data": [str(f) for f in folders], "classes": list(classes),
              "thresholds": dict(zip(classes, thresholds.tolist())),
              "files": len(candidates), "unlabelled_skipped": unlabelled, "failures": failures,
              "duplicate_copies_skipped": len(candidates) - unlabelled - len(failures) - len(rows),
              **score_records(y, p, thresholds, classes, bootstrap),
              "per_source": {s: score_records(y[sources == s], p[sources == s], thresholds, classes, 0)
                             for s in sorted(set(sources))}}
    cpsc = cpsc2018_rule(recordings, y, p, thresholds, classes, orders)
    if cpsc is not None:
        result["cpsc2018"] = cpsc
    if csv_path is not None:
        with open(csv_path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["record", "source", "reference", "predicted", *[f"p_{c}" for c in classes]])
            for (_, key, source, labels, probs), pred in zip(rows, decide(p, thresholds)):
                writer.writerow([key, source, " ".join(c for c in classes if c in labels) or "-",
                                 " ".join(c for c, hit in zip(classes, pred) if hit) or "-",
                                 *[f"{v:.6f}" for v in probs]])
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        plot_roc(y, p, classes, out / "roc.png", f"{predictor.description} - ROC")
        plot_confusion(per_class_scores(y, p, thresholds, classes), classes, out / "confusion.png",
                       "confusion matrices (the model's own thresholds)")
        (out / "metrics.json").write_text(json.dumps(_finite_or_none(result), indent=2))
    return _finite_or_none(result)
