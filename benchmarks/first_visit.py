"""A phone's first visit to the app: bytes over the wire and seconds until "Ready", in Debian's chromium.

    .venv/bin/python benchmarks/first_visit.py [--out benchmarks/results/first_visit.json]

Pixel 7 profile, a fresh browser context (empty cache, no service worker) and a fresh server per run, on
loopback. Bytes are counted by the server (every response body it sends, the service worker's precache
fetches included) until nothing more has been sent for 3 s after the page says "Ready". Twice: the server
as it was (every file as stored) and with precompressed files (gzip); each also on the throttled profile of
the issue (CPU 4x slower, 9 Mbit/s down, 20 ms latency; DevTools emulation, which covers the page's own
requests, not the service worker's).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from pocketecg.app.browser import PHONE, READY, launch
from pocketecg.app.server import create_app, serving

THROTTLED = {"offline": False, "latency": 20, "downloadThroughput": 9e6 / 8, "uploadThroughput": 2e6 / 8}


class CountBytes:
    """ASGI wrapper: response body bytes sent, per path (what went over the wire, headers aside)."""

    def __init__(self, app):
        self.app, self.sent = app, {}

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "?")

        async def counting(message):
            if message["type"] == "http.response.body":
                self.sent[path] = self.sent.get(path, 0) + len(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, counting)


def visit(browser, playwright, url: str, counter: CountBytes, throttled: bool) -> dict:
    context = browser.new_context(**playwright.devices[PHONE])
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    if throttled:
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", THROTTLED)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function(READY, timeout=180_000)
    ready_s = time.perf_counter() - started
    total, quiet_since = -1, time.monotonic()
    while time.monotonic() - quiet_since < 3:  # the service worker precaches after the page is ready
        now = sum(counter.sent.values())
        if now != total:
            total, quiet_since = now, time.monotonic()
        page.wait_for_timeout(250)
    context.close()
    return {"ready_s": round(ready_s, 2), "sent_mb": round(total / 1e6, 2),
            "largest_mb": {k: round(v / 1e6, 2) for k, v in sorted(counter.sent.items(), key=lambda kv: -kv[1])[:3]}}


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
                        results[key] = visit(browser, p, url, counter, throttled)
                print(key, results[key], flush=True)
        results["browser"] = browser.version
        browser.close()
    results["date"] = time.strftime("%Y-%m-%d")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
