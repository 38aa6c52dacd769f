"""Drive the phone page in Debian's chromium through Playwright (the browser tests and benchmarks use this).

Playwright's own browser download is never used: chromium comes from `apt-get install chromium`
(or POCKETECG_CHROMIUM names another binary).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]
PHONE = "Pixel 7"
READY = "document.getElementById('status').textContent.startsWith('Ready')"
RUNS = "Number(document.body.dataset.runs ?? 0)"  # finished classifications (results or errors) so far
# The throttled phone: CPU 4x slower, 9 Mbit/s down, 20 ms latency (DevTools emulation)
THROTTLED_NETWORK = {"offline": False, "latency": 20, "downloadThroughput": 9e6 / 8, "uploadThroughput": 2e6 / 8}
# Every text the status line shows, in order, whether or not a test was looking at that moment
RECORD_STATUS = """
new MutationObserver(() => {
  const status = document.getElementById('status');
  const bar = document.getElementById('load-progress');
  (window.statusLog ??= []).push({text: status.textContent, bar: bar ? !bar.hidden : null});
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def chromium_path() -> str | None:
    return os.environ.get("POCKETECG_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def launch(playwright):
    path = chromium_path()
    if path is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)


def open_app(context, url: str, timeout_ms: int = 60_000):
    """A new page on the app, once the model is loaded; returns (page, list collecting uncaught page errors)."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function(READY, timeout=timeout_ms)
    return page, errors


def open_files(page, paths: list[Path], timeout_ms: int = 60_000) -> None:
    """Open files through the page's file picker, as a user does, and wait for the result or the error."""
    before = page.evaluate(RUNS)
    page.set_input_files("#file-input", [str(p) for p in paths])
    page.wait_for_function(f"{RUNS} > {before}", timeout=timeout_ms)


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


def first_visit(browser, playwright, url: str, counter: CountBytes, throttled: bool = False,
                quiet_s: float = 3.0) -> dict:
    """A phone's first visit (fresh context: empty cache, no service worker) until "Ready" and then until the
    server has sent nothing for `quiet_s` (the service worker precaches after the page is ready).

    Returns seconds to ready, bytes sent (total and the largest paths), every status text shown, and the
    page's resource timings (start, end in ms) of the model and the runtime."""
    context = browser.new_context(**playwright.devices[PHONE])
    context.add_init_script(RECORD_STATUS)
    page = context.new_page()
    if throttled:
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", THROTTLED_NETWORK)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function(READY, timeout=180_000)
    ready_s = time.perf_counter() - started
    total, quiet_since = -1, time.monotonic()
    while time.monotonic() - quiet_since < quiet_s:
        now = sum(counter.sent.values())
        if now != total:
            total, quiet_since = now, time.monotonic()
        page.wait_for_timeout(250)
    statuses = page.evaluate("window.statusLog ?? []")
    timings = page.evaluate("""performance.getEntriesByType('resource')
        .filter(e => e.name.endsWith('/model.onnx') || e.name.endsWith('.wasm'))
        .map(e => [new URL(e.name).pathname, e.startTime, e.responseEnd])""")
    context.close()
    return {"ready_s": round(ready_s, 2), "sent_bytes": total,
            "largest_bytes": dict(sorted(counter.sent.items(), key=lambda kv: -kv[1])[:3]),
            "statuses": statuses, "timings_ms": {path: [start, end] for path, start, end in timings}}
