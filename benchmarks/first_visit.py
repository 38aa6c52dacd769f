"""A phone's first visit to the app: bytes over the wire and seconds until "Ready", in Debian's chromium.

    .venv/bin/python benchmarks/first_visit.py [--out benchmarks/results/first_visit.json]

Pixel 7 profile, a fresh browser context (empty cache, no service worker) and a fresh server per run, on
loopback. Bytes are counted by the server (every response body it sends, the service worker's precache
fetches included) until nothing more has been sent for 3 s after the page says "Ready". Twice: the server
as it was (every file as stored) and with precompressed files (brotli where the browser accepts it, else
gzip); each also on the throttled profile of the issue (CPU 4x slower, 9 Mbit/s down, 20 ms latency;
DevTools emulation, which covers the page's own requests, not the service worker's). The visit itself is
`pocketecg.app.browser.first_visit`, which the browser test of the 5 MB goal uses too.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from pocketecg.app.browser import CountBytes, first_visit, launch
from pocketecg.app.server import create_app, serving


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/first_visit.json"))
    args = ap.parse_args()
    results = {}
    with sync_playwright() as p:
        browser = launch(p)
        for label, compress in (("as stored", False), ("precompressed", True)):
            for throttled in (False, True):
                counter = None
                with tempfile.TemporaryDirectory() as site:
                    counter = CountBytes(create_app(site, compress=compress))
                    with serving(counter) as url:
                        key = f"{label}, {'throttled (CPU 4x, 9 Mbit/s)' if throttled else 'loopback'}"
                        seen = first_visit(browser, p, url, counter, throttled)
                        results[key] = {"ready_s": seen["ready_s"], "sent_mb": round(seen["sent_bytes"] / 1e6, 2),
                                        "largest_mb": {k: round(v / 1e6, 2) for k, v in seen["largest_bytes"].items()},
                                        "progress_texts": sum("%" in s["text"] for s in seen["statuses"]),
                                        "timings_ms": seen["timings_ms"]}
                print(key, results[key], flush=True)
        results["browser"] = browser.version
        browser.close()
    results["date"] = time.strftime("%Y-%m-%d")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
