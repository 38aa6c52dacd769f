"""Summarise finished ablation runs: params, MACs, latency (1 thread, all timed in this one process) and
the best VALIDATION macro-F1, with the reference resnet1d18 timed alongside for the ratios.

    python benchmarks/ablation_table.py runs/ablation > /dev/null   # writes benchmarks/results/ablation.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from pocketecg.compare import machine
from pocketecg.evaluate import evaluate_run
from pocketecg.models import create_model
from pocketecg.models.profile import latency_ms, profile
from pocketecg.inference import load_run


def main(folder: str) -> None:
    torch.set_num_threads(1)
    x = torch.randn(1, 12, 2500)
    ref = create_model("resnet1d18", 6).eval()
    rows = {}
    with torch.no_grad():
        ref_ms = latency_ms(lambda: ref(x), warmup=5, runs=50)
        for run in sorted(Path(folder).iterdir()):
            if not (run / "config.json").is_file():
                continue
            model, config = load_run(run)
            prof = profile(run.name, model, 2500)
            val = evaluate_run(run, "val", bootstrap=1000, plots=False)
            rows[run.name] = {
                "model_kwargs": config["model_kwargs"], "loss": config["train_config"]["loss"],
                "augment": config["train_config"]["augment"], "params": prof.params, "macs": prof.macs,
                "latency_ms": round(latency_ms(lambda: model(x), warmup=5, runs=50), 3),
                "val_macro_f1": round(val["macro_f1"], 4), "val_macro_f1_ci95": [round(v, 3) for v in val["ci95"]["macro_f1"]],
                "val_per_class_f1": {c: round(s["f1"], 3) for c, s in val["per_class"].items()},
                "best_epoch": config["best_epoch"], "epochs_run": config["epochs_run"],
            }
    ref_prof = profile("resnet1d18", ref, 2500)
    result = {"machine": machine(), "reference": {"params": ref_prof.params, "macs": ref_prof.macs,
                                                  "latency_ms": round(ref_ms, 3)}, "variants": rows,
              "note": "validation split only; 15 epochs each, seed 0; latency: 1 thread, median of 50, one process"}
    out = Path("benchmarks/results/ablation.json")
    out.write_text(json.dumps(result, indent=2))
    print("| variant | params | MACs | latency ms (x faster than resnet1d18) | val macro-F1 (95 % CI) | best epoch |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        lo, hi = r["val_macro_f1_ci95"]
        print(f"| {name} | {r['params'] / 1e6:.3f} M | {r['macs'] / 1e6:.0f} M | {r['latency_ms']:.2f} "
              f"({ref_ms / r['latency_ms']:.1f}x) | {r['val_macro_f1']:.3f} ({lo:.2f}-{hi:.2f}) | {r['best_epoch']} |")
    print(f"| resnet1d18 (reference) | {ref_prof.params / 1e6:.3f} M | {ref_prof.macs / 1e6:.0f} M | {ref_ms:.2f} | | |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/ablation")
