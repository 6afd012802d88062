"""Open a local page in headless Chromium and report what its images and audio players loaded.

Drives Debian's Chromium (/usr/bin/chromium, or $SGM_CHROMIUM) through Playwright, since
Playwright's own browser download cannot run offline. Install it with
`apt-get install -y chromium`.
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = Path(os.environ.get("SGM_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 900}
MEDIA_TIMEOUT_MS = 15_000

IMAGES_JS = "els => els.map(e => ({src: e.getAttribute('src'), width: e.naturalWidth, height: e.naturalHeight}))"
AUDIO_READY_JS = "() => [...document.querySelectorAll('audio')].every(a => a.readyState >= 1 || a.error)"
AUDIO_JS = "els => els.map(e => ({src: e.getAttribute('src'), duration: e.duration, error: e.error && e.error.code}))"


def inspect_page(page_file: Path, screenshot: Path) -> dict:
    """Load `page_file` by file:// URL, wait for every image and audio header, save a full-page
    screenshot and return {"images": [{src, width, height}], "audio": [{src, duration, error}]}."""
    if not CHROMIUM.is_file():
        raise FileNotFoundError(f"no Chromium at {CHROMIUM}: `apt-get install -y chromium`, or set SGM_CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(Path(page_file).resolve().as_uri(), wait_until="load")
            page.wait_for_function(AUDIO_READY_JS, timeout=MEDIA_TIMEOUT_MS)
            found = {
                "images": page.eval_on_selector_all("img", IMAGES_JS),
                "audio": page.eval_on_selector_all("audio", AUDIO_JS),
            }
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return found
