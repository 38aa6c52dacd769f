"""Screenshots of the phone page's states for the docs: docs/screenshots/*.png (small, committed).

    .venv/bin/python benchmarks/screenshots.py

Debian's chromium, Pixel 7 screen size at device scale 1 (to keep the PNGs small): the page when ready, a
result (a synthetic example, so nothing from ../shared/data is committed), the 12 leads as drawn upright,
the saved report (scaled to 1000 px wide), and a refused file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pocketecg.app.browser import PHONE, launch, open_app, open_files
from pocketecg.app.server import create_app, serving

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def main() -> None:
    from PIL import Image
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as site, \
            serving(create_app(site, examples=Path(site) / "synthetic-only")) as url, sync_playwright() as p:
        browser = launch(p)
        device = {**p.devices[PHONE], "device_scale_factor": 1}
        context = browser.new_context(**device, accept_downloads=True)
        page, errors = open_app(context, url)
        page.screenshot(path=str(OUT / "ready.png"))
        page.click("#example-button")
        page.wait_for_selector("#result:not([hidden])", timeout=60_000)
        page.screenshot(path=str(OUT / "result.png"), full_page=True)
        page.locator("figure").screenshot(path=str(OUT / "ecg.png"))
        with page.expect_download() as download:
            page.click("#report-button")
        saved = Path(site) / "report.png"
        download.value.save_as(saved)
        report = Image.open(saved)
        small = report.convert("RGB").resize((1000, round(1000 * report.height / report.width)), Image.LANCZOS)
        small.quantize(32).save(OUT / "report.png", optimize=True)  # 32 colours: paper, grid, ink
        broken = Path(site) / "broken.hea"
        broken.write_text("broken 12 500 5000\n")
        open_files(page, [broken])
        page.screenshot(path=str(OUT / "error.png"))
        browser.close()
        assert not errors, errors
    for png in sorted(OUT.glob("*.png")):
        print(f"{png.relative_to(OUT.parents[1])}: {png.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
