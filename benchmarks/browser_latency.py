"""In-browser inference time for one 10-s record: the phone page in Debian's chromium (Pixel 7 profile).

    .venv/bin/python benchmarks/browser_latency.py [--runs 100] [--out benchmarks/results/browser_latency.json]

For the shipped fp32 model (what the page runs), the int8 one and the fp32 one with float16-stored weights
(half the download; built here from the fp32 file): opens a synthetic 10-s, 500-Hz record
through the file picker, then times `session.run` on its window `runs` times (after the page's warm-up)
with onnxruntime-web, WASM, one thread. Also with chromium's CPU throttled 4x (DevTools emulation), a
rough stand-in for a mid-range phone: the Pixel 7 profile sets screen and user agent, not the CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from pocketecg.app.browser import PHONE, launch, open_app, open_files
from pocketecg.app.server import create_app, serving
from pocketecg.demo import synthetic_examples
from pocketecg.export import fp16_weights
from pocketecg.inference import SHIPPED_DIR


def measure(model: Path, record: list[Path], runs: int, throttles: tuple[int, ...]) -> dict:
    from playwright.sync_api import sync_playwright

    out = {}
    with tempfile.TemporaryDirectory() as site, serving(create_app(site, model)) as url, \
            sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(**p.devices[PHONE])
        page, errors = open_app(context, url)
        open_files(page, record)
        assert page.is_visible("#result"), page.inner_text("#error")
        cdp = context.new_cdp_session(page)
        for rate in throttles:
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
            times = page.evaluate(f"window.pocketecg.benchmark({runs})")
            out[f"cpu_throttle_{rate}x"] = {"median_ms": round(statistics.median(times), 2),
                                            "p90_ms": round(sorted(times)[int(0.9 * len(times)) - 1], 2),
                                            "runs": len(times)}
            print(f"{model.name}, CPU throttle {rate}x: median {statistics.median(times):.2f} ms over {runs} runs")
        out["browser"] = browser.version
        browser.close()
        assert not errors, errors
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/browser_latency.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        header, _ = synthetic_examples(Path(tmp))[0]
        record = [header, header.with_suffix(".dat")]
        # fp32 weights stored as float16 (`pocketecg export --format onnx-fp16`): half the download
        fp16 = fp16_weights(SHIPPED_DIR / "model.onnx", Path(tmp) / "model-fp16.onnx")
        results = {path.name: measure(path, record, args.runs, (1, 4))
                   for path in (SHIPPED_DIR / "model.onnx", SHIPPED_DIR / "model-int8.onnx", fp16)}
    report = {
        "what": "onnxruntime-web session.run for one 10-s record (1 window, 12 x 2500), WASM, 1 thread, "
                f"{PHONE} profile; median after the page's warm-up run",
        "machine": f"{platform.machine()}, {platform.processor() or platform.platform()}; shared 2-core host",
        "date": time.strftime("%Y-%m-%d"),
        "command": "python benchmarks/browser_latency.py " + f"--runs {args.runs}",
        "models": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
