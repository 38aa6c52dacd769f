"""The training loop: short and readable (after nanoGPT's), DDP when `torchrun` starts it.

    pocketecg train --model lite --classes six --cache CACHE --out runs/lite
    torchrun --nproc_per_node 2 -m pocketecg.cli train ...     (DistributedDataParallel, gloo on CPU)

- Epoch choice and thresholds come from the validation split only; the test split is never read here.
- A checkpoint is written after every epoch; `--resume` continues a killed run. Every epoch reseeds
  its shuffling, augmentation and dropout from (seed, epoch), so a resumed run ends with the same
  weights and metrics as an uninterrupted one.
- The run directory holds everything needed to use the model: model.pt (state_dict), config.json
  (model, classes, preprocessing, thresholds, split hash, seed, versions), history.csv.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from pocketecg import __version__
from pocketecg import labels as L
from pocketecg.augment import AUGMENTATIONS, apply_augmentations
from pocketecg.cache import PreparedCache, PreparedDataset
from pocketecg.distill import distillation_loss
from pocketecg.metrics import choose_thresholds, macro_f1
from pocketecg.inference import CONFIG_FILE, MODEL_FILE, record_probabilities
from pocketecg.models import create_model

CHECKPOINT = "checkpoint.pt"
HISTORY_FILE = "history.csv"


@dataclass
class TrainConfig:
    cache: str
    out: str
    model: str = "lite"
    classes: str = "six"
    epochs: int = 40
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-2
    warmup_epochs: int = 2
    loss: str = "bce"  # bce | bce_weighted | focal; plain BCE won on validation (docs/models.md)
    augment: tuple[str, ...] = ("scale", "noise", "wander", "crop", "lead_dropout")
    patience: int = 10  # epochs without a better validation macro-F1 before stopping
    seed: int = 0
    # the seed of cross-fitting's fold assignment (None: `seed`). Fixing it while `seed` changes gives
    # several training seeds on one set of folds, so their out-of-fold runs pair record by record and
    # share one cross-fitted teacher
    fold_seed: int | None = None
    device: str = "cpu"
    num_workers: int = 0
    model_kwargs: dict = field(default_factory=dict)
    # knowledge distillation (pocketecg.distill): cross-fitted teacher runs (several: their mean logit is
    # the target), the soft term's weight and temperature; used only through cross-fitting, which picks
    # each fold's teacher models
    teachers: tuple[str, ...] = ()
    distill_alpha: float = 0.5
    distill_temperature: float = 2.0
    # cheap regularisers from the small-ECG-model literature, off unless the out-of-fold scores keep them:
    # an exponential moving average of the weights (evaluated and saved instead of the raw weights) and
    # label smoothing of the hard targets (y -> y (1 - e) + e / 2), and mixup (Zhang et al. 2018: pairs of
    # windows blended with a Beta(a, a) weight, the loss blended alike against both windows' targets)
    ema_decay: float = 0.0
    label_smoothing: float = 0.0
    mixup: float = 0.0

    @property
    def crossfit_seed(self) -> int:
        """The seed cross-fitting draws its folds with."""
        return self.seed if self.fold_seed is None else self.fold_seed

    def __post_init__(self) -> None:
        L.preset_classes(self.classes)
        unknown = set(self.augment) - set(AUGMENTATIONS)
        if unknown:
            raise ValueError(f"unknown augmentation(s) {sorted(unknown)}; choose from {sorted(AUGMENTATIONS)}")
        if self.loss not in ("bce", "bce_weighted", "focal"):
            raise ValueError(f"unknown loss {self.loss!r}; choose bce, bce_weighted or focal")
        self.augment = tuple(self.augment)
        self.teachers = tuple(str(t) for t in self.teachers)
        if len({str(Path(t).resolve()) for t in self.teachers}) != len(self.teachers):
            raise ValueError(f"the same teacher given twice: {list(self.teachers)}")
        if not 0 < self.distill_alpha <= 1 or self.distill_temperature <= 0:
            raise ValueError("distillation needs 0 < alpha <= 1 and a temperature > 0")
        if not 0 <= self.ema_decay < 1 or not 0 <= self.label_smoothing < 1:
            raise ValueError("ema_decay and label_smoothing must be in [0, 1)")
        if self.mixup < 0:
            raise ValueError("mixup's Beta parameter must be >= 0 (0: off)")


def config_dict(config: TrainConfig) -> dict:
    """The settings as JSON writes them (tuples as lists)."""
    return asdict(config) | {"augment": list(config.augment), "teachers": list(config.teachers)}


def _saved_config_matches(saved: dict, config: TrainConfig) -> bool:
    """A checkpoint's settings against this run's; settings added to TrainConfig after the checkpoint was
    written count as their defaults (so a run started by an older version still resumes), and an older
    run's single `teacher` counts as a one-teacher list."""
    saved = dict(saved)
    if "teacher" in saved:
        legacy = saved.pop("teacher")
        saved["teachers"] = [legacy] if legacy else []
    return config_dict(TrainConfig(cache=config.cache, out=config.out)) | saved == config_dict(config)


# ---------------------------------------------------------------- distributed helpers
def ddp_setup(device: str = "cpu") -> tuple[int, int, torch.device]:
    """(rank, world size, this process's device). torchrun sets WORLD_SIZE, RANK and LOCAL_RANK.

    The backend follows the chosen device, not what the machine has: NCCL for --device cuda (each process
    on cuda:LOCAL_RANK), gloo for CPU training even on a GPU machine. A plain run is rank 0 of 1.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda, but torch sees no CUDA device on this machine")
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        chosen = torch.device("cuda", local_rank % torch.cuda.device_count())
    else:
        chosen = torch.device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    return (dist.get_rank(), world, chosen) if world > 1 else (0, 1, chosen)


def broadcast_flag(flag: bool, world: int, device: torch.device = torch.device("cpu")) -> bool:
    if world == 1:
        return flag
    t = torch.tensor([int(flag)], device=device)  # NCCL broadcasts only CUDA tensors
    dist.broadcast(t, src=0)
    return bool(t.item())


def replica_report(model: nn.Module, shard: np.ndarray, world: int, device: torch.device) -> dict:
    """After DDP training: are the replicas' weights identical, and did the ranks' data shards overlap?

    Both are facts about the run worth recording, and the DDP test relies on them: without the wrapper the
    replicas drift apart; with a wrong sharding they see the same records.
    """
    checksum = torch.tensor([float(sum(p.detach().double().abs().sum() for p in model.parameters()))],
                            dtype=torch.float64, device=device)
    sums = [torch.zeros_like(checksum) for _ in range(world)]
    dist.all_gather(sums, checksum)
    size = torch.tensor([len(shard)], device=device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    padded = torch.full((int(max(s.item() for s in sizes)),), -1, dtype=torch.long, device=device)
    padded[:len(shard)] = torch.as_tensor(shard, dtype=torch.long, device=device)
    shards = [torch.zeros_like(padded) for _ in range(world)]
    dist.all_gather(shards, padded)
    seen = [set(s[s >= 0].tolist()) for s in shards]
    overlap = sum(len(a & b) for i, a in enumerate(seen) for b in seen[i + 1:])
    values = [s.item() for s in sums]
    return {"world_size": world, "backend": dist.get_backend(),
            "replicas_identical": bool(max(values) - min(values) <= 1e-9 * max(1.0, abs(values[0]))),
            "shard_overlap_records": int(overlap), "shard_sizes": [int(s.item()) for s in sizes]}


# ---------------------------------------------------------------- data
class WindowBatches(torch.utils.data.Dataset):
    """Item i is the i-th batch of precomputed indices: one sorted gather from the memmap, as
    (windows, labels, teacher logits); the last is empty without a teacher."""

    def __init__(self, dataset: PreparedDataset, batches: list[np.ndarray], soft_targets: np.ndarray | None = None):
        self.dataset, self.batches, self.soft_targets = dataset, batches, soft_targets

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):
        indices = self.dataset.sorted_indices(self.batches[i])
        x, y = self.dataset.batch(indices)
        soft = (np.zeros((0,), np.float32) if self.soft_targets is None
                else self.soft_targets[self.dataset.window_index[indices]])
        return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(np.ascontiguousarray(soft))


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int, world: int) -> list[np.ndarray]:
    order = np.random.default_rng([seed, epoch]).permutation(n)
    order = order[: len(order) // world * world][rank::world]  # equal shards of one permutation: no rank waits
    usable = len(order) // batch_size * batch_size or len(order)  # drop the ragged tail (BatchNorm)
    return [order[i:i + batch_size] for i in range(0, usable, batch_size)]


# ---------------------------------------------------------------- loss
def make_loss(kind: str, targets: np.ndarray, device: torch.device):
    positives = targets.sum(axis=0)
    pos_weight = torch.tensor(np.clip((len(targets) - positives) / np.maximum(positives, 1), 1.0, 30.0),
                              dtype=torch.float32, device=device)

    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if kind == "bce":
            return F.binary_cross_entropy_with_logits(logits, y)
        if kind == "bce_weighted":  # weight positives by the class's negative/positive ratio
            return F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight)
        p = torch.sigmoid(logits)  # focal loss, gamma 2, alpha 0.25 (Lin et al. 2017)
        ce = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
        pt = p * y + (1 - p) * (1 - y)
        alpha = 0.25 * y + 0.75 * (1 - y)
        return (alpha * (1 - pt) ** 2 * ce).mean()

    return loss


def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warm-up, then cosine decay to 1 % of the base rate."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


# ---------------------------------------------------------------- checkpoints
def versions() -> dict:
    import numpy
    return {"pocketecg": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}


def save_checkpoint(path: Path, **state) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # a kill during the write leaves the previous checkpoint intact


def load_checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


# ---------------------------------------------------------------- the loop
@dataclass(frozen=True)
class Selection:
    """Which records train and which choose the epoch. The default is the plain protocol (train split /
    validation split); cross-fitting trains on K-1 folds of train+val and validates on the held-out one,
    and its final model trains on all of train+val for a fixed number of epochs (no validation)."""
    train_split: tuple[str, ...] = ("train",)
    val_split: tuple[str, ...] = ("val",)
    train_records: frozenset[str] | None = None
    val_records: frozenset[str] | None = None
    fixed_epochs: int | None = None  # train exactly this many epochs and keep the last weights


def train(config: TrainConfig, resume: bool = False, log=print, stop_after_epochs: int | None = None,
          selection: Selection = Selection(), thresholds: dict[str, float] | None = None,
          soft_targets: np.ndarray | None = None) -> Path:
    """Train and write the run directory; returns it. `stop_after_epochs` ends the process's work early
    (exactly as a kill right after that epoch's checkpoint; used to test resuming). `thresholds` are
    written instead of ones chosen on validation (cross-fitting's final model has no validation).
    `soft_targets`: teacher logits per cache window (distillation; cross-fitting chooses them)."""
    rank, world, device = ddp_setup(config.device)
    out = Path(config.out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    classes = L.preset_classes(config.classes)
    cache = PreparedCache(config.cache)
    cache.check_for_training()  # an edited manifest or a NaN window is refused before any epoch
    train_set = PreparedDataset(cache, selection.train_split, classes, selection.train_records)
    val_set = (None if selection.fixed_epochs else
               PreparedDataset(cache, selection.val_split, classes, selection.val_records))
    if len(train_set) == 0 or (val_set is not None and len(val_set) == 0):
        raise ValueError(f"{config.cache}: the cache needs labelled train and val records")
    if val_set is None and thresholds is None:
        raise ValueError("a run without validation needs its thresholds given (from cross-fitting)")
    last_epoch = min(config.epochs, selection.fixed_epochs or config.epochs)
    if config.teachers and soft_targets is None:
        raise ValueError("distillation (--teacher) runs through cross-fitting (--crossfit with the teacher's K), "
                         "which gives every fold the teacher model that never saw its held-out records")
    if soft_targets is not None:
        if soft_targets.shape != (len(cache.windows), len(classes)):
            raise ValueError(f"teacher logits have shape {soft_targets.shape}, the cache needs "
                             f"{(len(cache.windows), len(classes))}")
        if not np.isfinite(soft_targets[train_set.window_index]).all():
            raise ValueError("the teacher has no logits for some training windows")

    torch.manual_seed(config.seed)
    model = create_model(config.model, len(classes), **config.model_kwargs).to(device)
    if world > 1:
        model = DistributedDataParallel(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    # EMA of the weights and of BN's running statistics; the copy, not the raw model, is scored and kept
    ema = (AveragedModel(unwrap(model), multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
           if config.ema_decay else None)
    scored = (lambda: ema.module) if ema is not None else (lambda: unwrap(model))
    loss_fn = make_loss(config.loss, train_set.targets, device)
    steps_per_epoch = len(epoch_batches(len(train_set), config.batch_size, config.seed, 0, rank, world))
    total_steps = steps_per_epoch * config.epochs
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()

    start_epoch, history, best = 0, [], {"score": -1.0, "epoch": -1, "state": None, "bad_epochs": 0}
    ckpt_path = out / CHECKPOINT
    if resume and ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path)
        if not _saved_config_matches(ckpt["config"], config):
            raise ValueError(f"{ckpt_path}: was made with other settings; resume with the same ones or use a new --out")
        unwrap(model).load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if ema is not None:
            ema.load_state_dict(ckpt["ema"])
        start_epoch, history, best = ckpt["epoch"] + 1, ckpt["history"], ckpt["best"]
        log(f"resuming {out} after epoch {start_epoch}")

    def objective(logits, y, teacher):
        """The hard-target loss, mixed with the distillation term when there is a teacher."""
        loss = loss_fn(logits, y)
        if soft_targets is None:
            return loss
        alpha = config.distill_alpha
        return (1 - alpha) * loss + alpha * distillation_loss(logits, teacher, config.distill_temperature)

    stop = best["bad_epochs"] >= config.patience
    bar = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("loss {task.fields[loss]:.4f}  last val macro-F1 {task.fields[val]}"), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True, disable=rank != 0 or not sys.stderr.isatty())
    bar.start()
    task = bar.add_task("train", total=steps_per_epoch, epoch=0, loss=float("nan"),
                        val=f"{history[-1]['val_macro_f1']:.4f}" if history else "-")
    try:
        for epoch in range(start_epoch, last_epoch):
            if stop:
                break
            t0 = time.perf_counter()
            # dropout and augmentation draws: from (seed, epoch, rank), so resuming repeats them and the ranks
            # of a DDP run draw different noise for their different records
            torch.manual_seed(config.seed * 100_003 + epoch * 1_009 + rank)
            g = torch.Generator().manual_seed(config.seed * 100_003 + epoch * 1_009 + rank)
            batches = epoch_batches(len(train_set), config.batch_size, config.seed, epoch, rank, world)
            loader = torch.utils.data.DataLoader(WindowBatches(train_set, batches, soft_targets), batch_size=None,
                                                 shuffle=False, num_workers=config.num_workers)
            model.train()
            losses = []
            bar.reset(task, total=len(batches), epoch=f"{epoch + 1}/{config.epochs}")
            for step_in_epoch, (x, y, teacher) in enumerate(loader):
                step = epoch * steps_per_epoch + step_in_epoch
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(step, total_steps, config.warmup_epochs * steps_per_epoch, config.lr)
                x = apply_augmentations(x.to(device), config.augment, g, cache.settings.fs)
                y, teacher = y.to(device), teacher.to(device)
                if config.label_smoothing:
                    y = y * (1 - config.label_smoothing) + config.label_smoothing / 2
                if config.mixup:
                    # lam from a generator keyed by (seed, epoch, step, rank): a resumed run draws the same
                    lam = float(np.random.default_rng([config.seed, epoch, step_in_epoch, rank]).beta(
                        config.mixup, config.mixup))
                    partner = torch.randperm(len(x), generator=g).to(device)
                    x = lam * x + (1 - lam) * x[partner]

                with amp:
                    logits = model(x).float()
                    loss = objective(logits, y, teacher)
                    if config.mixup:
                        loss = lam * loss + (1 - lam) * objective(logits, y[partner],
                                                                   teacher[partner] if soft_targets is not None else teacher)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optimizer.step()
                if ema is not None:
                    ema.update_parameters(unwrap(model))
                losses.append(loss.item())
                bar.update(task, advance=1, loss=float(np.mean(losses)))
            train_seconds = time.perf_counter() - t0

            score = float("nan")
            if rank == 0:
                if val_set is not None:
                    _, y_val, p_val = record_probabilities(scored(), val_set, device)
                    score = macro_f1(y_val, p_val >= choose_thresholds(y_val, p_val))
                if val_set is None or score > best["score"]:  # without validation: the last epoch
                    best = {"score": score, "epoch": epoch, "bad_epochs": 0,
                            "state": {k: v.detach().cpu().clone() for k, v in scored().state_dict().items()}}
                else:
                    best["bad_epochs"] += 1
                row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_macro_f1": score,
                       "lr": optimizer.param_groups[0]["lr"], "train_seconds": round(train_seconds, 2),
                       "epoch_seconds": round(time.perf_counter() - t0, 2)}
                history.append(row)
                bar.update(task, val=f"{score:.4f}")
                log(f"epoch {epoch + 1:3d}/{last_epoch}  loss {row['train_loss']:.4f}  val macro-F1 {score:.4f}"
                    f"  {row['epoch_seconds']:.1f} s" + ("  *" if best["epoch"] == epoch else ""))
                save_checkpoint(ckpt_path, model=unwrap(model).state_dict(), optimizer=optimizer.state_dict(),
                                ema=None if ema is None else ema.state_dict(), epoch=epoch, history=history, best=best,
                                config=config_dict(config))
            stop = broadcast_flag(rank == 0 and best["bad_epochs"] >= config.patience, world, device)
            if stop_after_epochs is not None and epoch + 1 - start_epoch >= stop_after_epochs:
                return out
    finally:
        bar.stop()
    ddp = None
    if world > 1:
        first_shard = np.concatenate(epoch_batches(len(train_set), config.batch_size, config.seed, 0, rank, world))
        ddp = replica_report(unwrap(model), train_set.window_index[first_shard], world, device)
        if not ddp["replicas_identical"]:
            raise RuntimeError("DDP replicas ended with different weights: gradients were not synchronised")
    if rank == 0:
        finish_run(config, unwrap(model), best, history, val_set, cache, device, log, thresholds, ddp)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return out


def finish_run(config: TrainConfig, model: nn.Module, best: dict, history: list, val_set: PreparedDataset | None,
               cache: PreparedCache, device: torch.device, log, given_thresholds: dict | None = None,
               ddp: dict | None = None) -> None:
    """Best epoch's weights + thresholds (chosen on validation, or given) -> model.pt, config.json, history.csv."""
    out = Path(config.out)
    model.load_state_dict(best["state"])
    classes = L.preset_classes(config.classes)
    if given_thresholds is not None:
        thresholds = np.array([given_thresholds[c] for c in classes])
    else:
        _, y_val, p_val = record_probabilities(model, val_set, device)
        thresholds = choose_thresholds(y_val, p_val)
    torch.save(model.state_dict(), out / MODEL_FILE)
    run_config = {
        "model": config.model,
        "model_kwargs": config.model_kwargs,
        "classes": list(classes),
        "label_preset": config.classes,
        "thresholds": {c: float(t) for c, t in zip(classes, thresholds)},
        "preprocessing": cache.settings.to_dict(),
        "window_aggregation": "mean",
        "cache": str(Path(config.cache).resolve()),
        "split_manifest_sha256": cache.manifest_sha256,
        "seed": config.seed,
        "best_epoch": best["epoch"] + 1,
        "epochs_run": len(history),
        "val_macro_f1": best["score"] if val_set is not None else None,
        "thresholds_from": "validation split" if given_thresholds is None else "given (cross-fitting)",
        "train_seconds_per_epoch": float(np.mean([h["train_seconds"] for h in history])),
        "train_config": config_dict(config),
        "versions": versions(),
    }
    if ddp is not None:
        run_config["ddp"] = ddp
    (out / CONFIG_FILE).write_text(json.dumps(run_config, indent=2))
    with open(out / HISTORY_FILE, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    log(f"kept epoch {best['epoch'] + 1} (val macro-F1 {best['score']:.4f}); thresholds "
        + ", ".join(f"{c} {t:.2f}" for c, t in zip(classes, thresholds)) + f"; run saved in {out}")
