"""Several models, one split, one report: scores with CIs, size, MACs and speed side by side.

Every model is trained by the same `pocketecg train` recipe on the same cache (so the same split),
or a finished run is reused; all are scored on the same test records; all latencies are measured in
one process, one thread, one after another, so they can be compared as ratios.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import os
import platform
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from pocketecg.cache import PreparedCache
from pocketecg.evaluate import evaluate_run
from pocketecg.export import INPUT_NAME, export_run, onnx_session
from pocketecg.metrics import paired_difference_ci
from pocketecg.models import list_models
from pocketecg.models.profile import latency_ms, profile
from pocketecg.inference import CONFIG_FILE, decide, load_run
from pocketecg.train import TrainConfig, train

LATENCY_RUNS = 50


def machine() -> dict:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": len(os.sched_getaffinity(0)), "python": platform.python_version(), "torch": torch.__version__}


def ensure_run(name: str, base: TrainConfig, runs: Path, log) -> Path:
    out = runs / name
    if (out / CONFIG_FILE).is_file():
        log(f"{name}: reusing finished run {out}")
        return out
    log(f"{name}: training -> {out}")
    return train(replace(base, model=name, out=str(out)), resume=True, log=log)


def export_pair(run: Path) -> tuple[dict, dict]:
    """fp32 and int8 ONNX files next to the run's weights, with their parity reports."""
    return export_run(run, run / "model.onnx", "onnx"), export_run(run, run / "model-int8.onnx", "onnx-int8")


def paired_differences(run_dirs: dict[str, Path], results: dict[str, dict], bootstrap: int) -> None:
    """Every model's macro-F1 minus the first model's, on the same test records, with a paired bootstrap CI."""
    preds = {}
    for name, run in run_dirs.items():
        with np.load(run / "predictions-test.npz") as d:
            preds[name] = (d["records"], d["y"], decide(d["p"], d["thresholds"]))
    first, *others = run_dirs
    records, y, pred_first = preds[first]
    for name in others:
        if not np.array_equal(preds[name][0], records):
            raise ValueError(f"{name} and {first} were scored on different test records")
        diff = paired_difference_ci(y, preds[name][2], pred_first, n=max(bootstrap, 200))
        results[name][f"macro_f1_minus_{first}"] = diff


def measure_latencies(runs: dict[str, Path], samples: int, log) -> dict[str, dict]:
    """Median latency for one 10-s record, one thread, torch and onnxruntime, every model in turn."""
    torch.set_num_threads(1)
    x = np.random.default_rng(0).standard_normal((1, 12, samples)).astype(np.float32)
    xt = torch.from_numpy(x)
    out = {}
    for name, run in runs.items():
        model, _ = load_run(run)
        session = onnx_session(run / "model.onnx", threads=1)
        session8 = onnx_session(run / "model-int8.onnx", threads=1)
        with torch.no_grad():
            t_torch = latency_ms(lambda: model(xt), warmup=10, runs=LATENCY_RUNS)
        t_onnx = latency_ms(lambda: session.run(None, {INPUT_NAME: x}), warmup=10, runs=LATENCY_RUNS)
        t_int8 = latency_ms(lambda: session8.run(None, {INPUT_NAME: x}), warmup=10, runs=LATENCY_RUNS)
        out[name] = {"latency_ms_torch": round(t_torch, 3), "latency_ms_onnx": round(t_onnx, 3),
                     "latency_ms_onnx_int8": round(t_int8, 3)}
        log(f"{name}: torch {t_torch:.2f} ms, onnxruntime {t_onnx:.2f} ms, int8 {t_int8:.2f} ms")
    return out


def compare(models: list[str], classes: str, cache: str | Path, out: str | Path, runs: str | Path | None = None,
            base: TrainConfig | None = None, bootstrap: int = 1000, command: str = "", log=print) -> dict:
    unknown = [m for m in models if m not in list_models()]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(list_models())}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = Path(runs) if runs else Path("runs") / f"compare-{classes}"
    base = base or TrainConfig(cache=str(cache), out="", classes=classes)
    base = replace(base, cache=str(cache), classes=classes)
    prepared = PreparedCache(cache)
    samples = 10 * prepared.settings.fs

    run_dirs = {name: ensure_run(name, base, runs, log) for name in models}
    results: dict[str, dict] = {}
    for name, run in run_dirs.items():
        metrics = evaluate_run(run, "test", cache, bootstrap=bootstrap, plots=True)
        config = json.loads((run / CONFIG_FILE).read_text())
        model, _ = load_run(run)
        prof = profile(name, model, samples)
        fp32, int8 = export_pair(run)
        results[name] = {
            "macro_f1": metrics["macro_f1"],
            "macro_f1_ci95": metrics["ci95"]["macro_f1"] if metrics["ci95"] else None,
            "macro_auroc": metrics["macro_auroc"],
            "per_class": {c: {"f1": s["f1"], "auroc": s["auroc"], "positives": s["positives"],
                              "f1_ci95": metrics["ci95"]["f1"][j] if metrics["ci95"] else None}
                          for j, (c, s) in enumerate(metrics["per_class"].items())},
            "params": prof.params,
            "macs": prof.macs,
            "size_fp32_bytes": fp32["size_bytes"],
            "size_int8_bytes": int8["size_bytes"],
            "int8_label_agreement_val": int8["label_agreement"],
            "train_seconds_per_epoch": config["train_seconds_per_epoch"],
            "epochs_run": config["epochs_run"],
            "best_epoch": config["best_epoch"],
            "val_macro_f1": config["val_macro_f1"],
            "run": str(run),
            "test_records": metrics["records"],
        }
        if "cpsc2018" in metrics:
            results[name]["cpsc2018"] = metrics["cpsc2018"]
    paired_differences(run_dirs, results, bootstrap)
    for name, lat in measure_latencies(run_dirs, samples, log).items():
        results[name].update(lat)

    report = {
        "date": dt.date.today().isoformat(),
        "command": command,
        "machine": machine(),
        "classes": classes,
        "cache": str(Path(cache).resolve()),
        "split_manifest_sha256": prepared.manifest_sha256,
        "input": f"1 x 12 x {samples} (10 s at {prepared.settings.fs} Hz)",
        "latency": f"median of {LATENCY_RUNS} runs after 10 warm-up runs, 1 thread, models timed in one process",
        "models": results,
    }
    (out / "results.json").write_text(json.dumps(report, indent=2))
    plots = write_plots(results, out)
    (out / "report.md").write_text(render_markdown(report, plots))
    (out / "report.html").write_text(render_html(report, plots))
    return report


def write_plots(results: dict, out: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    paths = {}
    for key, xlabel, fname in [("latency_ms_onnx", "CPU latency, onnxruntime, 1 thread (ms, 10-s record)", "f1_vs_latency.png"),
                               ("size_fp32_bytes", "fp32 ONNX size (MB)", "f1_vs_size.png")]:
        fig, ax = plt.subplots(figsize=(5.5, 4))
        for name, r in results.items():
            x = r[key] / (1e6 if key.startswith("size") else 1)
            lo, hi = r["macro_f1_ci95"] or (r["macro_f1"], r["macro_f1"])
            # a percentile interval need not contain the point estimate: clip the bars at zero length
            err = [[max(0.0, r["macro_f1"] - lo)], [max(0.0, hi - r["macro_f1"])]]
            ax.errorbar(x, r["macro_f1"], yerr=err, fmt="o", capsize=3)
            ax.annotate(name, (x, r["macro_f1"]), textcoords="offset points", xytext=(5, 5), fontsize=8)
        ax.set(xscale="log", xlabel=xlabel, ylabel="test macro-F1 (95 % CI)")
        lo_x, hi_x = ax.get_xlim()  # plain numbers at 1-2-5 steps; matplotlib's log labels overlap here
        ax.set_xticks([t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500) if lo_x <= t <= hi_x])
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / fname, dpi=120)
        plt.close(fig)
        paths[key] = out / fname
    return paths


def _table_rows(report: dict) -> tuple[list[str], list[list[str]]]:
    first = next(iter(report["models"]))
    head = ["model", "macro-F1 (95 % CI)", f"minus {first} (paired 95 % CI)", "AUROC", "params", "MACs",
            "fp32 ONNX", "int8 ONNX", "torch ms", "onnx ms", "int8 ms", "s/epoch", "epochs"]
    rows = []
    for name, r in report["models"].items():
        lo, hi = r["macro_f1_ci95"] or (float("nan"), float("nan"))
        d = r.get(f"macro_f1_minus_{first}")
        diff = f"{d['difference']:+.3f} ({d['ci95'][0]:+.3f} to {d['ci95'][1]:+.3f})" if d else "—"
        rows.append([name, f"{r['macro_f1']:.3f} ({lo:.3f}-{hi:.3f})", diff, f"{r['macro_auroc']:.3f}",
                     f"{r['params'] / 1e6:.2f} M", f"{r['macs'] / 1e6:.0f} M", f"{r['size_fp32_bytes'] / 1e6:.2f} MB",
                     f"{r['size_int8_bytes'] / 1e6:.2f} MB", f"{r['latency_ms_torch']:.2f}", f"{r['latency_ms_onnx']:.2f}",
                     f"{r['latency_ms_onnx_int8']:.2f}", f"{r['train_seconds_per_epoch']:.1f}",
                     f"{r['epochs_run']} (best {r['best_epoch']})"])
    return head, rows


def _class_rows(report: dict) -> tuple[list[str], list[list[str]]]:
    names = list(report["models"])
    classes = list(next(iter(report["models"].values()))["per_class"])
    head = ["class", "n", *names]
    rows = []
    for c in classes:
        cells = []
        for name in names:
            s = report["models"][name]["per_class"][c]
            ci = s["f1_ci95"]
            cells.append(f"{s['f1']:.3f}" + (f" ({ci[0]:.2f}-{ci[1]:.2f})" if ci else ""))
        rows.append([c, str(report["models"][names[0]]["per_class"][c]["positives"]), *cells])
    return head, rows


def render_markdown(report: dict, plots: dict[str, Path]) -> str:
    def table(head, rows):
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])

    first = next(iter(report["models"].values()))
    parts = [
        f"# Model comparison ({report['classes']} classes)", "",
        f"Date {report['date']}; machine: {report['machine']['processor']}, {report['machine']['cpus']} CPUs, "
        f"torch {report['machine']['torch']}. Input {report['input']}. Latency: {report['latency']}.",
        f"All models scored on the same {first['test_records']} test records "
        f"(split manifest {report['split_manifest_sha256'][:12]}); thresholds and epochs chosen on validation.", "",
        f"Command: `{report['command']}`" if report["command"] else "", "",
        table(*_table_rows(report)), "", "## Per-class F1 (95 % CI)", "", table(*_class_rows(report)), "",
        *(f"![{k}]({p.name})" for k, p in plots.items()), "",
    ]
    return "\n".join(parts)


def render_html(report: dict, plots: dict[str, Path]) -> str:
    def table(head, rows):
        th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"

    images = "".join(f'<img alt="{k}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
                     for k, p in plots.items())
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>pocketecg comparison</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}
img{{max-width:48%;margin:1%}}</style></head><body>
<h1>Model comparison ({html.escape(report['classes'])} classes)</h1>
<p>{html.escape(report['date'])} &middot; {html.escape(report['machine']['processor'])}, {report['machine']['cpus']} CPUs
&middot; input {html.escape(report['input'])} &middot; latency: {html.escape(report['latency'])}</p>
<p>Command: <code>{html.escape(report['command'])}</code></p>
{table(*_table_rows(report))}<h2>Per-class F1 (95 % CI)</h2>{table(*_class_rows(report))}{images}
<p>Research software, not a medical device.</p></body></html>"""
