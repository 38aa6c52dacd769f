"""Ablation of the `lite` design and of the training choices, scored on the VALIDATION split only.

    python benchmarks/ablate_lite.py --cache cache/shared --runs runs/ablation --worker 0 --workers 2

Each variant is a full `pocketecg train` run (same seed, same split); finished runs are reused, so the
script can be stopped and restarted. `benchmarks/ablation_table.py` then writes
benchmarks/results/ablation.json (params, MACs, latency, validation macro-F1). The test split is not read.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

VARIANTS: dict[str, dict] = {
    # architecture (training: bce_weighted + all augmentations, as the published table says; the loss is given
    # explicitly so the variants keep meaning what the table says when the default loss changes)
    "A_w64-256_k9_se_stem2": {"model_kwargs": {"widths": [64, 128, 192, 256], "stem_stride": 2}, "loss": "bce_weighted"},
    "B_w64-256_k9_se_stem4": {"model_kwargs": {"widths": [64, 128, 192, 256], "stem_stride": 4}, "loss": "bce_weighted"},
    "C_w32-256_k9_se_stem4": {"model_kwargs": {"widths": [32, 64, 128, 256], "stem_stride": 4}, "loss": "bce_weighted"},
    "D_w64-256_k9_nose_stem4": {"model_kwargs": {"widths": [64, 128, 192, 256], "stem_stride": 4, "se_reduction": None},
                                "loss": "bce_weighted"},
    "E_w48-256_k7_se_stem4": {"model_kwargs": {"widths": [48, 96, 160, 256], "stem_stride": 4, "kernel_size": 7},
                              "loss": "bce_weighted"},
    # training choices (on B)
    "F_B_focal": {"model_kwargs": {"widths": [64, 128, 192, 256], "stem_stride": 4}, "loss": "focal"},
    "G_B_no_augment": {"model_kwargs": {"widths": [64, 128, 192, 256], "stem_stride": 4}, "augment": (),
                       "loss": "bce_weighted"},
    "H_B_bce": {"model_kwargs": {"widths": [64, 128, 192, 256], "stem_stride": 4}, "loss": "bce"},
}
# each augmentation left out in turn (on B with plain BCE, the better loss in F/H): an augmentation is
# kept only if removing it lowers validation macro-F1
_ALL_AUG = ("scale", "noise", "wander", "crop", "lead_dropout")
for _i, _aug in enumerate(_ALL_AUG):
    VARIANTS[f"{'IJKLM'[_i]}_H_without_{_aug}"] = {
        "model_kwargs": {"widths": [64, 128, 192, 256], "stem_stride": 4}, "loss": "bce",
        "augment": tuple(a for a in _ALL_AUG if a != _aug)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default="cache/shared")
    ap.add_argument("--runs", default="runs/ablation")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--worker", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from pocketecg.train import TrainConfig, train

    names = [n for n in VARIANTS if not args.only or n in args.only]
    for i, name in enumerate(names):
        if i % args.workers != args.worker:
            continue
        out = Path(args.runs) / name
        if (out / "config.json").is_file():
            continue
        config = TrainConfig(cache=args.cache, out=str(out), model="lite", epochs=args.epochs, patience=args.epochs,
                             **VARIANTS[name])
        t0 = time.time()
        train(config, resume=True, log=lambda m, n=name: print(f"[{n}] {m}", flush=True))
        print(f"[{name}] done in {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
