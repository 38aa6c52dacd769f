"""Knowledge distillation: cross-fitted teachers' logits as soft targets for a smaller student.

    pocketecg train --model seresnet18 --cache C --out runs/teacher --crossfit 3 --no-final
    pocketecg train --model lite --cache C --out runs/student --crossfit 3 --teacher runs/teacher
    pocketecg train --model lite ... --teacher runs/teacher-a --teacher runs/teacher-b   # an ensemble

Which teacher model gives which student model its targets, so that no record a student is scored on
ever informs that student's targets:
- the student's fold-i model (trained on folds != i, scored on held-out fold i) learns from the teacher's
  fold-i model, the one teacher that never saw fold i. Teacher and student must therefore share the folds:
  the same cache, K and fold seed (`--fold-seed`, else `--seed`), checked against the teacher's
  out-of-fold file record by record;
- the final student (all of train+val, scored on the test split) learns from the mean logit of all K
  teacher models, none of which saw the test split.
With several teachers (an ensemble, e.g. cross-fitted `seresnet18` and `resnet1d18`), every teacher must
share the student's folds, and fold i's target is the mean logit of the teachers' fold-i models: still
only models that never saw fold i. The mean logit (not the mean probability) is the ensemble the final
targets already use, and it keeps a confident teacher's margin instead of squashing it toward 0.5.
The teacher's targets on a student's training records are in-sample for that teacher. Out-of-fold
targets ("each record's target from the teacher that did not train on it") would be softer, but for
cross-fitting they leak: the target of a fold-m record comes from a teacher that trained on fold i, the
fold the student is scored on, so the student's out-of-fold scores would flatter it. Clean out-of-fold
targets need a teacher per pair of folds (K(K-1)/2 more teacher fits), which two cores cannot pay for.

Loss: (1 - alpha) * BCE(student, labels) + alpha * T^2 * BCE(student / T, sigmoid(teacher / T))
(Hinton et al. 2015, with a sigmoid per class because the task is multi-label; T^2 keeps the soft term's
gradient scale independent of T).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pocketecg.cache import PreparedCache

TEACHER_LOGITS = "teacher-logits.npz"
_EPS = 1e-6


def distillation_loss(logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """The soft term: BCE between the student's and the teacher's tempered sigmoids, times T^2."""
    soft = torch.sigmoid(teacher_logits / temperature)
    return F.binary_cross_entropy_with_logits(logits / temperature, soft) * temperature ** 2


@dataclass(frozen=True)
class TeacherLogits:
    """Per cache window, each teacher fold's logits: `logits[i]` is fold model i's (with several teachers,
    the mean logit of their fold-i models), NaN outside train+val. `k`, `seed` (the fold seed) and
    `manifest_sha256` say which folds and which cache they belong to; `teachers` which runs they came from."""
    logits: np.ndarray  # (K, windows in the cache, classes), float32
    classes: tuple[str, ...]
    k: int
    seed: int
    manifest_sha256: str
    teachers: tuple[str, ...]

    def for_fold(self, i: int) -> np.ndarray:
        """Targets for the student's fold-i model: from the teacher model(s) that never saw fold i."""
        return self.logits[i]

    def ensemble(self) -> np.ndarray:
        """Targets for the final student: the mean logit of the K teacher models."""
        return self.logits.mean(axis=0)

    def save(self, path: Path) -> None:
        np.savez_compressed(path, logits=self.logits, classes=np.array(self.classes), k=self.k, seed=self.seed,
                            manifest_sha256=self.manifest_sha256, teachers=np.array(self.teachers))

    @classmethod
    def load(cls, path: Path) -> TeacherLogits:
        with np.load(path, allow_pickle=False) as d:
            # files written before ensembles had one `teacher`
            teachers = d["teachers"] if "teachers" in d.files else d["teacher"].reshape(1)
            return cls(d["logits"], tuple(str(c) for c in d["classes"]), int(d["k"]), int(d["seed"]),
                       str(d["manifest_sha256"]), tuple(str(t) for t in teachers))


def teacher_summary(teacher_dir: Path) -> dict:
    """The teacher run's cross-fitting summary (crossfit.json of a --no-final run, else config.json)."""
    from pocketecg.crossfit import CROSSFIT_SUMMARY
    from pocketecg.inference import CONFIG_FILE

    for name in (CROSSFIT_SUMMARY, CONFIG_FILE):
        path = teacher_dir / name
        if path.is_file():
            try:
                summary = json.loads(path.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValueError(f"{path}: unreadable ({exc.__class__.__name__})") from None
            if isinstance(summary, dict) and isinstance(summary.get("crossfit"), dict):
                return summary
    raise ValueError(f"{teacher_dir}: not a finished cross-fitted run (no {CROSSFIT_SUMMARY} or {CONFIG_FILE} "
                     "with a 'crossfit' section); train the teacher with --crossfit K [--no-final]")


def teacher_logits(teacher_dirs: tuple[str, ...], cache: PreparedCache, student_folds: dict[str, int], seed: int,
                   classes: tuple[str, ...], log=print) -> TeacherLogits:
    """Run every fold model of one or more cross-fitted teachers over the cache's train+val windows;
    several teachers are averaged fold by fold, in logit space.

    `student_folds`: record -> fold of the student's cross-fit. Refuses a teacher whose folds are not
    the student's: another cache, K, fold seed or label set."""
    from pocketecg.crossfit import POOL
    from pocketecg.inference import load_run, window_probabilities

    dirs = [Path(t) for t in teacher_dirs]
    k = len(set(student_folds.values()))
    for teacher_dir in dirs:  # every teacher checked before any model runs
        check_teacher(teacher_dir, student_folds, k, classes)
    rows = cache.rows(POOL)
    windows = np.sort(rows["window"].to_numpy())
    logits = np.zeros((k, len(cache.windows), len(classes)), np.float64)
    for n, teacher_dir in enumerate(dirs):
        for i in range(k):
            fold_dir = teacher_dir / "folds" / f"fold-{i}"
            model, fold_config = load_run(fold_dir)
            if fold_config["split_manifest_sha256"] != cache.manifest_sha256:
                raise ValueError(f"{fold_dir}: trained on another cache (split manifest "
                                 f"{fold_config['split_manifest_sha256'][:12]}, this one {cache.manifest_sha256[:12]})")
            p = window_probabilities(model, cache.windows[windows]).astype(np.float64)
            p = np.clip(p, _EPS, 1 - _EPS)
            logits[i, windows] += np.log(p / (1 - p)) / len(dirs)
            log(f"teacher {n + 1}/{len(dirs)} fold {i + 1}/{k} ({fold_config['model']}): logits for "
                f"{len(windows)} train+val windows")
    outside = np.ones(len(cache.windows), bool)
    outside[windows] = False
    logits[:, outside] = np.nan
    return TeacherLogits(logits.astype(np.float32), tuple(classes), k, seed, cache.manifest_sha256,
                         tuple(str(d.resolve()) for d in dirs))


def check_teacher(teacher_dir: Path, student_folds: dict[str, int], k: int, classes: tuple[str, ...]) -> None:
    """Refuse a teacher run whose label set, K or folds (record by record) are not the student's."""
    from pocketecg.crossfit import OOF_FILE

    summary = teacher_summary(teacher_dir)
    if tuple(summary["classes"]) != tuple(classes):
        raise ValueError(f"{teacher_dir}: the teacher predicts {summary['classes']}, the student {list(classes)}")
    if summary["crossfit"]["k"] != k:
        raise ValueError(f"{teacher_dir}: the teacher was cross-fitted with K={summary['crossfit']['k']}, the "
                         f"student asks for K={k}; distillation needs the same folds (use --crossfit "
                         f"{summary['crossfit']['k']})")
    if not set(summary["crossfit"].get("folds_trained", range(k))) >= set(range(k)):
        raise ValueError(f"{teacher_dir}: the teacher trained only folds {summary['crossfit']['folds_trained']} "
                         f"of {k}; every student fold needs its teacher fold model")
    with np.load(teacher_dir / OOF_FILE, allow_pickle=False) as d:
        teacher_folds = dict(zip(d["records"].tolist(), d["folds"].tolist()))
    if teacher_folds != student_folds:
        raise ValueError(f"{teacher_dir}: the teacher's folds differ from the student's (another cache or fold "
                         "seed); distillation needs the same folds: to train with another --seed, keep the "
                         "teacher's folds with --fold-seed")
