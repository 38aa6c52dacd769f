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
        scores = _f1_at_thresholds(y_val[:, j], p_val[:, j], grid)
        best = np.flatnonzero(scores == scores.max())
        out[j] = grid[best[np.argmin(np.abs(grid[best] - 0.5))]]
    return out


def _f1_from_counts(tp: np.ndarray, predicted: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """F1 = 2 TP / (predicted + actual positives); 0 where both are 0 (sklearn's zero_division=0.0)."""
    tp, denominator = np.broadcast_arrays(np.asarray(tp, float), np.asarray(predicted + positive, float))
    return np.divide(2 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)


def _f1_at_thresholds(y: np.ndarray, p: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """One class's F1 at every threshold of the grid at once."""
    positive, predicted = y.astype(bool), p[None, :] >= grid[:, None]
    return _f1_from_counts((predicted & positive).sum(axis=1), predicted.sum(axis=1), positive.sum())


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


# The challenge's four sub-scores, each pooled over its classes: 2 (sum N_jj) / (sum of their rows and columns).
CPSC2018_GROUPS: dict[str, tuple[str, ...]] = {"F_AF": ("AF",), "F_Block": ("IAVB", "LBBB", "RBBB"),
                                               "F_PC": ("PAC", "PVC"), "F_ST": ("STD", "STE")}


def cpsc2018_scores(ordered_labels, answer: np.ndarray, classes: tuple[str, ...] = L.CLASSES) -> dict:
    """The CPSC 2018 challenge scores, by the official scoring script's rule.

    `ordered_labels[i]` holds record i's labels as indices into `classes`, in the reference's order
    (First_label first); `answer[i]` is the record's single answer. An answer that is one of the record's
    labels is correct (N_aa); any other answer is counted against the record's *first* label (N_first,a).
    F_j = 2 N_jj / (sum_i N_ji + sum_i N_ij). Records with no label among `classes` are not scored, and
    a class that is neither in any reference nor in any answer has no F (None) and is left out of F1,
    the mean of the others (the challenge's nine classes were all present). Sub-scores are pooled over
    their classes that are in `classes`.
    """
    k = len(classes)
    A = np.zeros((k, k))
    for labels, a in zip(ordered_labels, answer):
        labels = list(labels)
        if not labels:
            continue
        A[a if a in labels else labels[0], a] += 1
    rows, cols, diag = A.sum(axis=1), A.sum(axis=0), np.diag(A)
    F = [float(2 * diag[j] / (rows[j] + cols[j])) if rows[j] + cols[j] else None for j in range(k)]
    out = {"records": int(A.sum()), "F_per_class": dict(zip(classes, F)),
           "F1": float(np.mean([f for f in F if f is not None])) if any(f is not None for f in F) else None}
    for group, members in CPSC2018_GROUPS.items():
        idx = [classes.index(c) for c in members if c in classes]
        denom = rows[idx].sum() + cols[idx].sum()
        if idx:
            out[group] = float(2 * diag[idx].sum() / denom) if denom else None
    out["confusion"] = {"rows": "reference (first label when the answer is wrong)", "columns": "answer",
                        "classes": list(classes), "counts": A.astype(int).tolist()}
    return out


def _resample_weights(n_records: int, n: int, seed: int) -> np.ndarray:
    """(n, n_records): how often each record is drawn in each of n resamples with replacement."""
    rng = np.random.default_rng(seed)
    return np.stack([np.bincount(rng.integers(0, n_records, n_records), minlength=n_records) for _ in range(n)])


def _weighted_f1(weights: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per resample (row of `weights`) and class, F1 of the resampled records: the counts a resample
    duplicates records by, instead of materialising it (sklearn's f1_score, zero_division 0, on each
    resample gives the same numbers, hundreds of times slower)."""
    y, pred = y.astype(float), pred.astype(float)
    return _f1_from_counts(weights @ (y * pred), weights @ pred, weights @ y)


def _weighted_auroc(weights: np.ndarray, y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Per resample, the AUROC of one class (Mann-Whitney with record weights, ties counted half);
    NaN where a resample has no positive or no negative record."""
    values, group = np.unique(score, return_inverse=True)
    pos = np.zeros((len(weights), len(values)))
    neg = np.zeros_like(pos)
    np.add.at(pos.T, group, (weights * (y == 1)).T)
    np.add.at(neg.T, group, (weights * (y == 0)).T)
    below = np.cumsum(neg, axis=1) - neg
    pairs = (pos * (below + neg / 2)).sum(axis=1)
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    valid = (n_pos > 0) & (n_neg > 0)
    return np.divide(pairs, n_pos * n_neg, out=np.full(len(weights), np.nan), where=valid)


def _seed_stack(pred: np.ndarray) -> np.ndarray:
    """One model's decisions (records x classes) as a stack of one; several seeds' (seeds x records x classes) as is."""
    pred = np.asarray(pred)
    return pred[None] if pred.ndim == 2 else pred


def _resampled_macro_f1(weights: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per resample, macro-F1 averaged over the seeds in `pred` (each seed sees the same resample)."""
    return np.mean([_weighted_f1(weights, y, p).mean(axis=1) for p in _seed_stack(pred)], axis=0)


def seed_mean_macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Macro-F1 of one model's decisions, or the mean macro-F1 of several seeds' (seeds x records x classes)."""
    return float(np.mean([macro_f1(y, p) for p in _seed_stack(pred)]))


def macro_f1_ci(y: np.ndarray, pred: np.ndarray, n: int = 1000, seed: int = 0, level: float = 0.95) -> list[float]:
    """Percentile interval of `seed_mean_macro_f1` over records resampled with replacement (the same
    resamples as `bootstrap_ci`, so one model's interval is bootstrap_ci's macro-F1 interval)."""
    values = _resampled_macro_f1(_resample_weights(len(y), n, seed), y, pred)
    return [float(np.percentile(values, (1 - level) / 2 * 100)), float(np.percentile(values, (1 + level) / 2 * 100))]


def paired_difference_ci(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, n: int = 1000, seed: int = 0,
                         level: float = 0.95) -> dict:
    """Macro-F1 of A minus that of B on the same records, with a percentile interval from resampling
    records (both models see the same resample, so record difficulty cancels out).
    A and B may each be several training seeds of one recipe (seeds x records x classes): the difference
    is then between the seeds' mean macro-F1s, every seed scored on the same resample, so the interval
    covers record sampling while seed-to-seed noise is averaged rather than left to one draw."""
    weights = _resample_weights(len(y), n, seed)
    diffs = _resampled_macro_f1(weights, y, pred_a) - _resampled_macro_f1(weights, y, pred_b)
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return {"difference": seed_mean_macro_f1(y, pred_a) - seed_mean_macro_f1(y, pred_b),
            "ci95": [float(np.percentile(diffs, lo)), float(np.percentile(diffs, hi))], "resamples": n}


def bootstrap_ci(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray, n: int = 1000, seed: int = 0,
                 level: float = 0.95) -> dict:
    """Percentile intervals over records resampled with replacement (thresholds held fixed)."""
    weights = _resample_weights(len(y), n, seed)
    per_class = _weighted_f1(weights, y, decide(p, thresholds))
    macro = per_class.mean(axis=1)
    auroc = np.stack([_weighted_auroc(weights, y[:, j], p[:, j]) for j in range(y.shape[1])], axis=1)
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return {
        "macro_f1": [float(np.percentile(macro, lo)), float(np.percentile(macro, hi))],
        "f1": [[float(np.percentile(per_class[:, j], lo)), float(np.percentile(per_class[:, j], hi))]
               for j in range(y.shape[1])],
        "auroc": [[float(np.nanpercentile(auroc[:, j], lo)), float(np.nanpercentile(auroc[:, j], hi))]
                  if np.isfinite(auroc[:, j]).any() else [float("nan")] * 2 for j in range(y.shape[1])],
        "resamples": n,
        "level": level,
    }
