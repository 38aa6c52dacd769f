"""Out-of-fold macro-F1 against onnxruntime latency and against model size, for the runs measured so far.

    python benchmarks/oof_plots.py benchmarks/results/distill_liteC_oof.json benchmarks/results/resnet1d18_oof.json
        -> benchmarks/results/oof_vs_latency.png, benchmarks/results/oof_vs_size.png
    python benchmarks/oof_plots.py benchmarks/results/vs_liteC_kd2_oof.json --prefix kd2   # seed recipes too
    python benchmarks/oof_plots.py benchmarks/results/fold0_all_models.json --prefix fold0
        -> benchmarks/results/fold0_vs_latency.png, ... (a report scored on one fold's records)

Reads out-of-fold macro-F1 from `benchmarks/pair_oof.py` reports (every run in them must share the folds:
pair_oof checks that) and latency and size from `benchmarks/results/latency.json` (one process, one thread).
A run's latency row is found from its name (runs/liteC-kd-cf3 -> liteC; runs/resnet1d18-cf3 -> resnet1d18).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def latency_key(run: str, known: list[str]) -> str:
    """The latency.json row a run's name refers to: the longest model name in it ("seresnet18" before "resnet1d18")."""
    name = Path(run).name
    matches = [k for k in known if name.startswith(k) or f"-{k}-" in f"-{name}-"]
    if not matches:
        raise SystemExit(f"{run}: no model of latency.json in its name ({', '.join(known)})")
    return max(matches, key=len)


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ap = argparse.ArgumentParser()
    ap.add_argument("reports", nargs="+", type=Path)
    ap.add_argument("--latency", type=Path, default=RESULTS / "latency.json")
    ap.add_argument("--prefix", default="oof", help="output names: PREFIX_vs_latency.png, PREFIX_vs_size.png")
    args = ap.parse_args()
    models = json.loads(args.latency.read_text())["models"]
    points, records = {}, set()
    for report in args.reports:
        report = json.loads(report.read_text())
        records.add(report["records"])
        for run, entry in report["runs"].items():
            seeds = run.split(",")  # a recipe of several training seeds: its seed-mean macro-F1
            name = Path(seeds[0]).name + (f" ({len(seeds)} seeds)" if len(seeds) > 1 else "")
            points[name] = (latency_key(seeds[0], list(models)), entry["macro_f1"])
    for what, field, unit in (("latency", "ms_onnx", "onnxruntime ms per 10-s record, 1 thread"),
                              ("size", "onnx_fp32_bytes", "fp32 ONNX MB")):
        fig, ax = plt.subplots(figsize=(6, 4))
        for i, (name, (key, f1)) in enumerate(sorted(points.items(), key=lambda kv: kv[1][1])):
            x = models[key][field] / (1e6 if field.endswith("bytes") else 1)
            ax.scatter(x, f1)
            # labels alternate above and below their point, so that near-equal scores stay readable
            ax.annotate(name, (x, f1), textcoords="offset points", xytext=(4, 4 if i % 2 else -10), fontsize=8)
        ax.set_xscale("log")
        ax.margins(x=0.4)
        ax.set(xlabel=unit, ylabel=f"out-of-fold macro-F1 ({'/'.join(f'{n:,}' for n in sorted(records))} records)",
               title=f"macro-F1 against {what}")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        out = RESULTS / f"{args.prefix}_vs_{what}.png"
        fig.savefig(out, dpi=80)
        print(f"wrote {out}")
    for name, (key, f1) in sorted(points.items(), key=lambda kv: -kv[1][1]):
        m = models[key]
        print(f"| {name} | {f1:.3f} | {m['params'] / 1e6:.3f} M | {m['ms_onnx']:.2f} ms | {m['onnx_fp32_bytes'] / 1e6:.2f} MB |")


if __name__ == "__main__":
    main()
