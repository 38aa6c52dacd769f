"""Cross-fitting: thresholds and the epoch count chosen on out-of-fold predictions of train+validation.

    pocketecg train --model lite --classes six --cache CACHE --out runs/lite --crossfit 5

1. train+validation is cut into K folds by group (patient, else recording; `splits.assign_folds`,
   stratified like the splits), so no copy of a recording and no patient sits in two folds;
2. K models, each trained on K-1 folds with early stopping on its own held-out fold;
3. every train+validation record gets one out-of-fold probability (from the model that never saw it);
   each class's threshold is chosen on those ~2,300 predictions instead of ~290 validation records;
4. the final model is trained on all of train+validation for the median of the K best epoch counts
   (the same learning-rate schedule as the folds), and ships with the out-of-fold thresholds.
With `config.teachers` every model learns from cross-fitted teachers' soft targets too (`pocketecg.distill`
says which teacher model serves which fold). The test split is read by nothing here. The run directory keeps the folds (`folds/fold-i/`), the
out-of-fold predictions (`oof-predictions.npz`, `oof-predictions.csv`) and their metrics with bootstrap
CIs (`oof-metrics.json`): the numbers to choose between models or settings with.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from pocketecg import labels as L
from pocketecg.cache import PreparedCache, PreparedDataset
from pocketecg.distill import TEACHER_LOGITS, TeacherLogits, teacher_logits
from pocketecg.metrics import bootstrap_ci, choose_thresholds, macro_f1, per_class_scores
from pocketecg.splits import assign_folds
from pocketecg.inference import CONFIG_FILE, decide, load_run, record_probabilities
from pocketecg.train import Selection, TrainConfig, train

POOL = ("train", "val")
OOF_FILE = "oof-predictions.npz"
OOF_METRICS = "oof-metrics.json"
CROSSFIT_SUMMARY = "crossfit.json"


def record_folds(cache: PreparedCache, k: int, seed: int) -> dict[str, int]:
    """Record key -> fold for the primary, labelled train+val records; a group's records share a fold."""
    rows = cache.rows(POOL).drop_duplicates("record")
    labels = {}
    for row in rows.itertuples(index=False):
        present = frozenset(c for c in L.CLASSES if getattr(row, c) == 1)
        labels[row.group] = labels.get(row.group, frozenset()) | present
    folds = assign_folds(labels, k, seed)
    return {row.record: folds[row.group] for row in rows.itertuples(index=False)}


def load_or_compute_teacher(config: TrainConfig, cache: PreparedCache, fold_of: dict[str, int],
                            classes: tuple[str, ...], log) -> TeacherLogits:
    """The teachers' logits, computed once per student run and kept in it (`teacher-logits.npz`)."""
    path, k = Path(config.out) / TEACHER_LOGITS, len(set(fold_of.values()))
    if path.is_file():
        kept = TeacherLogits.load(path)
        if (kept.k, kept.seed, kept.manifest_sha256, kept.classes, kept.teachers) == (
                k, config.crossfit_seed, cache.manifest_sha256, tuple(classes),
                tuple(str(Path(t).resolve()) for t in config.teachers)):
            return kept
    teacher = teacher_logits(config.teachers, cache, fold_of, config.crossfit_seed, classes, log)
    teacher.save(path)
    return teacher


def fold_subset(folds, k: int, final: bool) -> tuple[int, ...]:
    """The folds to train, sorted and checked: all K unless a subset is given, which cannot have a final model
    (that needs every fold's best epoch)."""
    folds = tuple(range(k)) if folds is None else tuple(sorted(set(folds)))
    if not folds or not all(0 <= i < k for i in folds):
        raise ValueError(f"folds must be among 0..{k - 1}, got {', '.join(map(str, folds)) or 'none'}")
    if final and len(folds) < k:
        raise ValueError("a subset of folds gives no final model: add --no-final")
    return folds


def crossfit(config: TrainConfig, k: int = 5, log=print, resume: bool = True, final: bool = True,
             folds: tuple[int, ...] | None = None) -> Path:
    """`final=False` stops after the out-of-fold predictions (a teacher for distillation needs only those):
    the run then has no model.pt, and its summary is in crossfit.json instead of config.json.
    `folds` trains only those of the K folds (a model too costly for all K on the hardware at hand): the
    out-of-fold predictions then cover only the held-out records of those folds, which another run on the
    same K and fold seed can be paired with record by record; there is no final model."""
    out = Path(config.out)
    folds = fold_subset(folds, k, final)
    out.mkdir(parents=True, exist_ok=True)
    classes = L.preset_classes(config.classes)
    cache = PreparedCache(config.cache)
    fold_of = record_folds(cache, k, config.crossfit_seed)
    teacher = load_or_compute_teacher(config, cache, fold_of, classes, log) if config.teachers else None
    all_records = np.array(sorted(fold_of))
    all_fold_ids = np.array([fold_of[r] for r in all_records])
    covered = np.isin(all_fold_ids, folds)
    records, fold_ids = all_records[covered], all_fold_ids[covered]
    oof_p = np.full((len(records), len(classes)), np.nan)
    oof_y = np.zeros((len(records), len(classes)))
    fold_summaries = []
    for i in folds:
        held = frozenset(all_records[all_fold_ids == i])
        fold_dir = out / "folds" / f"fold-{i}"
        log(f"fold {i + 1}/{k}: {len(all_records) - len(held)} records to train, {len(held)} held out -> {fold_dir}")
        if not (fold_dir / CONFIG_FILE).is_file():
            train(replace(config, out=str(fold_dir)), resume=resume, log=log,
                  selection=Selection(POOL, POOL, frozenset(all_records[all_fold_ids != i]), held),
                  soft_targets=None if teacher is None else teacher.for_fold(i))
        model, fold_config = load_run(fold_dir)
        keys, y, p = record_probabilities(model, PreparedDataset(cache, POOL, classes, set(held)), torch.device("cpu"))
        index = np.searchsorted(records, keys)
        oof_p[index], oof_y[index] = p, y
        fold_summaries.append({"fold": i, "records": len(held), "best_epoch": fold_config["best_epoch"],
                               "epochs_run": fold_config["epochs_run"], "val_macro_f1": fold_config["val_macro_f1"]})
    if np.isnan(oof_p).any():
        raise RuntimeError("some train+val records got no out-of-fold prediction")
    thresholds = choose_thresholds(oof_y, oof_p)
    final_epochs = int(np.median([f["best_epoch"] for f in fold_summaries]))
    threshold_map = {c: float(t) for c, t in zip(classes, thresholds)}
    log(f"out-of-fold thresholds ({len(records)} records): {', '.join(f'{c} {t:.2f}' for c, t in threshold_map.items())}"
        + (f"; final model: all {len(records)} train+val records for {final_epochs} epochs (median best epoch)"
           if final else ""))
    np.savez_compressed(out / OOF_FILE, records=records.astype(str), folds=fold_ids, y=oof_y, p=oof_p,
                        thresholds=thresholds)
    with open(out / "oof-predictions.csv", "w") as fh:
        fh.write(",".join(["record", "fold", *[f"y_{c}" for c in classes], *[f"p_{c}" for c in classes]]) + "\n")
        for r, f, y, p in zip(records, fold_ids, oof_y, oof_p):
            fh.write(",".join([r, str(f), *[str(int(v)) for v in y], *[f"{v:.6f}" for v in p]]) + "\n")
    per_class = per_class_scores(oof_y, oof_p, thresholds, classes)
    oof_metrics = {"records": int(len(records)), "k": k, "macro_f1": macro_f1(oof_y, decide(oof_p, thresholds)),
                   "macro_auroc": float(np.nanmean([s["auroc"] for s in per_class.values()])),
                   "per_class": per_class, "ci95": bootstrap_ci(oof_y, oof_p, thresholds, n=1000),
                   "note": "thresholds chosen on these same out-of-fold predictions, so F1 here is slightly "
                           "optimistic; AUROC is not affected. Use for choosing between models, not as a test score."}
    (out / OOF_METRICS).write_text(json.dumps(oof_metrics, indent=2))
    summary = {"k": k, "folds_trained": list(folds), "folds": fold_summaries, "final_epochs": final_epochs,
               "fold_assignment": "splits.assign_folds over patient/recording groups, seed "
                                  f"{config.crossfit_seed}; per record in {OOF_FILE}",
               "fold_seed": config.crossfit_seed, "seed": config.seed,
               "oof_macro_f1": oof_metrics["macro_f1"], "oof_macro_f1_ci95": oof_metrics["ci95"]["macro_f1"],
               "oof_macro_auroc": oof_metrics["macro_auroc"],
               "oof_f1": {c: per_class[c]["f1"] for c in classes}}
    if teacher is not None:
        summary["distillation"] = {"teachers": list(teacher.teachers), "alpha": config.distill_alpha,
                                   "temperature": config.distill_temperature,
                                   "targets": "fold i: mean logit of the teachers' fold-i models (none saw fold i); "
                                              "final model: mean logit of all teachers' K fold models "
                                              "(pocketecg.distill)"}
    if not final:
        (out / CROSSFIT_SUMMARY).write_text(json.dumps({"model": config.model, "classes": list(classes),
                                                        "crossfit": summary}, indent=2))
        log(f"out-of-fold predictions saved in {out / OOF_FILE} (no final model): out-of-fold macro-F1 "
            f"{oof_metrics['macro_f1']:.4f}")
        return out
    if not (out / "model.pt").is_file() or not (out / CONFIG_FILE).is_file():
        train(config, resume=resume, log=log, selection=Selection(POOL, POOL, fixed_epochs=final_epochs),
              thresholds=threshold_map, soft_targets=None if teacher is None else teacher.ensemble())
    run_config = json.loads((out / CONFIG_FILE).read_text())
    run_config["thresholds_from"] = f"out-of-fold predictions of {k}-fold cross-fitting over train+val"
    run_config["crossfit"] = summary
    (out / CONFIG_FILE).write_text(json.dumps(run_config, indent=2))
    log(f"cross-fitted run saved in {out}: out-of-fold macro-F1 {oof_metrics['macro_f1']:.4f} "
        f"(95 % CI {oof_metrics['ci95']['macro_f1'][0]:.3f}-{oof_metrics['ci95']['macro_f1'][1]:.3f})")
    return out
