"""Headless Debian Chromium for looking at pages the way a person would."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--hide-scrollbars",
    "--window-size=1600,1000",
]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def page_text(dom: str) -> str:
    """Visible-ish text: tags dropped, whitespace collapsed."""
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", dom, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def render(
    url: str,
    screenshot: Path | None = None,
    expect: tuple[str, ...] = (),
    tries: int = 3,
    screenshot_ms: int = 20000,
) -> str:
    """The page's text once scripts ran (retried with more time until every `expect` string
    shows); optionally a PNG screenshot too, taken after `screenshot_ms` of page time."""
    exe = chromium()
    if exe is None:
        raise RuntimeError("chromium not installed: `make setup` installs Debian's chromium")
    text = ""
    for attempt in range(tries):
        wait_ms = 15000 * (attempt + 1)
        with tempfile.TemporaryDirectory() as profile:
            base = [exe, *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={wait_ms}"]
            dom = subprocess.run(
                [*base, "--dump-dom", url], capture_output=True, text=True, timeout=180
            ).stdout
        text = page_text(dom)
        if all(e in text for e in expect):
            break
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                [
                    exe,
                    *FLAGS,
                    f"--user-data-dir={profile}",
                    f"--virtual-time-budget={screenshot_ms}",
                    f"--screenshot={screenshot}",
                    url,
                ],
                capture_output=True,
                timeout=180,
            )
    return text
