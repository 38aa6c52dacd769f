"""Scores for multi-label ECG classification: per-class F1/precision/recall/AUROC/AUPRC, macro-F1,
the CPSC 2018 challenge scores, thresholds chosen on validation data, and bootstrap intervals.

Everything here works on record-level arrays: `y` (n_records, n_classes) 0/1 and `p`
(n_records, n_classes) probabilities. Which split they come from is the caller's business; the
threshold search takes validation arrays only and has no way to see anything else.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

from pocketecg import labels as L
from pocketecg.inference import decide


def f1_per_class(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return f1_score(y, pred, average=None, zero_division=0.0)


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    return float(f1_score(y, pred, average="macro", zero_division=0.0))


def choose_thresholds(y_val: np.ndarray, p_val: np.ndarray, grid: np.ndarray | None = None) -> np.ndarray:
    """Per class, the threshold that maximises that class's F1 on the validation split.

    Ties go to the threshold closest to 0.5. A class with no validation positive keeps 0.5.
    """
    grid = np.round(np.arange(0.02, 0.99, 0.01), 2) if grid is None else grid
    out = np.full(y_val.shape[1], 0.5)
    for j in range(y_val.shape[1]):
        if y_val[:, j].sum() == 0:
            continue
        scores = np.array([f1_score(y_val[:, j], p_val[:, j] >= t, zero_division=0.0) for t in grid])
        best = np.flatnonzero(scores == scores.max())
        out[j] = grid[best[np.argmin(np.abs(grid[best] - 0.5))]]
    return out


def _safe(fn, y, p):
    return float(fn(y, p)) if 0 < y.sum() < len(y) else float("nan")


def per_class_scores(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray, classes: tuple[str, ...]) -> dict:
    pred = decide(p, thresholds)
    f1 = f1_per_class(y, pred)
    precision = precision_score(y, pred, average=None, zero_division=0.0)
    recall = recall_score(y, pred, average=None, zero_division=0.0)
    out = {}
    for j, c in enumerate(classes):
        out[c] = {
            "f1": float(f1[j]), "precision": float(precision[j]), "recall": float(recall[j]),
            "auroc": _safe(roc_auc_score, y[:, j], p[:, j]),
            "auprc": _safe(average_precision_score, y[:, j], p[:, j]),
            "threshold": float(thresholds[j]), "positives": int(y[:, j].sum()),
            "tp": int((pred[:, j] & (y[:, j] == 1)).sum()), "fp": int((pred[:, j] & (y[:, j] == 0)).sum()),
            "fn": int((~pred[:, j] & (y[:, j] == 1)).sum()), "tn": int((~pred[:, j] & (y[:, j] == 0)).sum()),
        }
    return out


def single_label(p: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """One answer per record, as CPSC 2018 scored: the class furthest above (or least below) its threshold."""
    return np.argmax(p - thresholds, axis=1)


def cpsc2018_scores(y: np.ndarray, answer: np.ndarray) -> dict:
    """The CPSC 2018 challenge scores over the nine classes (order of labels.CLASSES).

    As the official scoring script: a record's single answer counts as correct when it is one of the
    record's labels; otherwise it is counted against the record's first label. Records without any of
    the nine labels are not scored. F_j = 2 N_jj / (sum_i N_ji + sum_i N_ij).
    """
    if y.shape[1] != len(L.CLASSES):
        raise ValueError("CPSC 2018 scores need the nine cpsc9 classes")
    A = np.zeros((9, 9))
    for labels, a in zip(y, answer):
        present = np.flatnonzero(labels)
        if present.size == 0:
            continue
        if labels[a]:
            A[a, a] += 1
        else:
            A[present[0], a] += 1
    denom = A.sum(axis=1) + A.sum(axis=0)
    F = np.divide(2 * np.diag(A), denom, out=np.zeros(9), where=denom > 0)
    return {
        "F_per_class": {c: float(f) for c, f in zip(L.CLASSES, F)},
        "F_AF": float(F[1]),
        "F_Block": float(F[2:5].mean()),
        "F_PC": float(F[5:7].mean()),
        "F_ST": float(F[7:9].mean()),
        "F1": float(F.mean()),
    }


def paired_difference_ci(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, n: int = 1000, seed: int = 0,
                         level: float = 0.95) -> dict:
    """Macro-F1 of A minus that of B on the same records, with a percentile interval from resampling
    records (both models see the same resample, so record difficulty cancels out)."""
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
        diffs.append(macro_f1(y[idx], pred_a[idx]) - macro_f1(y[idx], pred_b[idx]))
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return {"difference": macro_f1(y, pred_a) - macro_f1(y, pred_b),
            "ci95": [float(np.percentile(diffs, lo)), float(np.percentile(diffs, hi))], "resamples": n}


def bootstrap_ci(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray, n: int = 1000, seed: int = 0,
                 level: float = 0.95) -> dict:
    """Percentile intervals over records resampled with replacement (thresholds held fixed)."""
    rng = np.random.default_rng(seed)
    pred = decide(p, thresholds)
    macro, per_class, auroc = [], [], []
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
        yb, pb = y[idx], pred[idx]
        per_class.append(f1_per_class(yb, pb))
        macro.append(per_class[-1].mean())
        auroc.append([_safe(roc_auc_score, yb[:, j], p[idx, j]) for j in range(y.shape[1])])
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    per_class, auroc = np.array(per_class), np.array(auroc)
    return {
        "macro_f1": [float(np.percentile(macro, lo)), float(np.percentile(macro, hi))],
        "f1": [[float(np.percentile(per_class[:, j], lo)), float(np.percentile(per_class[:, j], hi))]
               for j in range(y.shape[1])],
        "auroc": [[float(np.nanpercentile(auroc[:, j], lo)), float(np.nanpercentile(auroc[:, j], hi))]
                  if np.isfinite(auroc[:, j]).any() else [float("nan")] * 2 for j in range(y.shape[1])],
        "resamples": n,
        "level": level,
    }
