"""Latency of every model in the zoo, one thread, all timed in one process, interleaved.

    python benchmarks/latency.py [--cache cache/shared-v2] [--rounds 7] [--runs 20]
        -> benchmarks/results/latency.json

Latency depends on the architecture, not on the trained weights, so the models are built from the registry
with their initial weights (eval mode). Each is timed four ways on one 10-s record (1 x 12 x 2500):
torch eager, torch with BatchNorm folded into the preceding convolution (torch.fx), onnxruntime fp32 and
onnxruntime int8 (static QDQ, calibrated on training windows of --cache when given, else on noise).
The machine is shared and noisy, so the models take turns inside each of --rounds rounds and each number is
the median over rounds of the per-round median; ratios against `resnet1d18` come from the same rounds.
Where lite's time goes: torch.profiler's top operators for the liteC student.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.fx.experimental.optimization import fuse as fuse_conv_bn

from pocketecg.export import INPUT_NAME, export_onnx, onnx_bytes, onnx_session, quantize_int8
from pocketecg.models import create_model
from pocketecg.models.profile import count_macs, count_params, latency_ms

SAMPLES = 2500
ZOO = {  # name in the table -> (registry name, builder kwargs)
    "liteC": ("lite", {"widths": (32, 64, 128, 256)}),
    "lite": ("lite", {}),
    "resnet1d18": ("resnet1d18", {}),
    "seresnet18": ("seresnet18", {}),
    "resnet1d34": ("resnet1d34", {}),
    "seresnet34": ("seresnet34", {}),
    "alexnet1d": ("alexnet1d", {}),
    "squeezenet1d": ("squeezenet1d", {}),
}


def calibration_windows(cache: str | None, n: int = 64) -> tuple[np.ndarray, str]:
    if cache and Path(cache).is_dir():
        from pocketecg.cache import PreparedDataset

        train = PreparedDataset(cache, "train")
        windows, _ = train.batch(np.arange(min(n, len(train))))
        return np.ascontiguousarray(windows[:, :, :SAMPLES], dtype=np.float32), f"{n} training windows of {cache}"
    rng = np.random.default_rng(1)
    return rng.standard_normal((n, 12, SAMPLES)).astype(np.float32), "noise (no cache given)"


def top_ops(model: torch.nn.Module, x: torch.Tensor, count: int = 8) -> list[dict]:
    from torch.profiler import ProfilerActivity, profile

    with torch.no_grad():
        for _ in range(5):
            model(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(20):
                model(x)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [{"op": e.key, "calls_per_run": e.count // 20, "self_ms_per_run": round(e.self_cpu_time_total / 20e3, 3),
             "share": round(e.self_cpu_time_total / total, 3)} for e in events[:count]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="cache/shared-v2")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--models", default=",".join(ZOO))
    ap.add_argument("--out", default="benchmarks/results/latency.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    names = args.models.split(",")
    calibration, calibration_from = calibration_windows(args.cache)
    x = calibration[:1].copy()
    xt = torch.from_numpy(x)
    tmp = Path(tempfile.mkdtemp(prefix="latency-"))
    runners, facts = {}, {}
    for name in names:
        registry_name, kwargs = ZOO[name]
        model = create_model(registry_name, num_classes=6, **kwargs).eval()
        fused = fuse_conv_bn(model)
        fp32, int8 = tmp / f"{name}.onnx", tmp / f"{name}-int8.onnx"
        export_onnx(model, fp32, samples=SAMPLES)
        quantize_int8(fp32, int8, calibration)
        s32, s8 = onnx_session(fp32, threads=1), onnx_session(int8, threads=1)
        with torch.no_grad():
            ref = model(xt).numpy()
            fused_diff = float(np.abs(fused(xt).numpy() - ref).max())
        facts[name] = {"params": count_params(model), "macs": count_macs(model, SAMPLES),
                       "onnx_fp32_bytes": onnx_bytes(fp32), "onnx_int8_bytes": onnx_bytes(int8),
                       "bn_fold_max_abs_logit_difference": fused_diff,
                       "onnx_max_abs_logit_difference": float(np.abs(s32.run(None, {INPUT_NAME: x})[0] - ref).max())}
        runners[name] = {
            "torch": lambda m=model: m(xt),
            "torch_bn_folded": lambda m=fused: m(xt),
            "onnx": lambda s=s32: s.run(None, {INPUT_NAME: x}),
            "onnx_int8": lambda s=s8: s.run(None, {INPUT_NAME: x}),
        }
        print(f"{name}: {facts[name]['params'] / 1e6:.3f} M params, {facts[name]['macs'] / 1e6:.0f} M MACs", flush=True)
    per_round: dict[str, dict[str, list[float]]] = {n: {k: [] for k in runners[n]} for n in names}
    t0 = time.time()
    with torch.no_grad():
        for r in range(args.rounds):
            for name in names:
                for backend, fn in runners[name].items():
                    per_round[name][backend].append(latency_ms(fn, warmup=3, runs=args.runs))
            print(f"round {r + 1}/{args.rounds} done ({time.time() - t0:.0f} s)", flush=True)
    results = {}
    for name in names:
        row = dict(facts[name])
        for backend, times in per_round[name].items():
            row[f"ms_{backend}"] = round(statistics.median(times), 3)
        results[name] = row
    if "resnet1d18" in results:
        base = per_round["resnet1d18"]
        for name in names:
            for backend in runners[name]:
                ratios = [b / t for b, t in zip(base[backend], per_round[name][backend])]
                results[name][f"speedup_vs_resnet1d18_{backend}"] = round(statistics.median(ratios), 2)
    profile = {}
    for name in ("liteC", "resnet1d18"):
        if name in names:
            registry_name, kwargs = ZOO[name]
            model = create_model(registry_name, num_classes=6, **kwargs).eval()
            profile[name] = {"eager": top_ops(model, xt), "bn_folded": top_ops(fuse_conv_bn(model), xt)}
    report = {"input": [1, 12, SAMPLES], "threads": 1, "rounds": args.rounds, "runs_per_round": args.runs,
              "int8_calibration": calibration_from, "torch": torch.__version__,
              "onnxruntime": __import__("onnxruntime").__version__, "models": results, "torch_profile": profile,
              "method": "initial weights (latency does not depend on them); per-round medians, models interleaved"}
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"{'model':14s} {'params':>8s} {'torch':>7s} {'folded':>7s} {'onnx':>7s} {'int8':>7s}  x-r18 torch/onnx")
    for name, row in results.items():
        print(f"{name:14s} {row['params'] / 1e6:7.3f}M {row['ms_torch']:7.2f} {row['ms_torch_bn_folded']:7.2f} "
              f"{row['ms_onnx']:7.2f} {row['ms_onnx_int8']:7.2f}  {row.get('speedup_vs_resnet1d18_torch', '')}"
              f"/{row.get('speedup_vs_resnet1d18_onnx', '')}")


if __name__ == "__main__":
    main()
