"""Drive the phone page in Debian's chromium through Playwright (the browser tests and benchmarks use this).

Playwright's own browser download is never used: chromium comes from `apt-get install chromium`
(or POCKETECG_CHROMIUM names another binary).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]
PHONE = "Pixel 7"
READY = "document.getElementById('status').textContent.startsWith('Ready')"
RUNS = "Number(document.body.dataset.runs ?? 0)"  # finished classifications (results or errors) so far


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
