"""Regenerate what README.md and docs/ show from the code, never by hand:

- README.md's example (between <!-- example:start --> and <!-- example:end -->): rows of the faulty demo
  node's table as `glm5check` prints them (tests/test_readme.py makes it and checks it is current);
- docs/html-report-a2-node0.png and docs/html-report-a2-node1.png: the HTML report of the two demo nodes,
  rendered by headless Chromium (Debian package `chromium`).

    python docs/make_docs.py            # both
    python docs/make_docs.py readme     # only the README example

tests/test_html_report.py renders the pages in Chromium the same way (chromium_command).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = {"a2-node0": ("demo", 1800), "a2-node1": ("demo:a2-node1", 3000)}  # node -> (replay, height)
SCREEN_WIDTH = 1280


def glm5check(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("CI", None)
    return subprocess.run(
        [sys.executable, "-m", "glm5check", *args], capture_output=True, text=True, env=env, timeout=300
    )


def update_readme() -> None:
    """tests/test_readme.py rewrites the example from a real run of the faulty demo node."""
    subprocess.run([sys.executable, str(REPO / "tests" / "test_readme.py")], check=True, timeout=300)


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_command(browser: str, profile_dir: str, *action: str) -> list[str]:
    """Headless Chromium that touches no network and no user profile (action: --dump-dom or --screenshot=…)."""
    return [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile_dir}",
        *action,
    ]


def screenshot(browser: str, page: Path, target: Path, height: int) -> None:
    with tempfile.TemporaryDirectory() as profile:
        command = chromium_command(
            browser, profile, f"--window-size={SCREEN_WIDTH},{height}", f"--screenshot={target}", page.as_uri()
        )
        subprocess.run(command, capture_output=True, timeout=180, check=True)


def update_screenshots() -> None:
    browser = find_chromium()
    if browser is None:
        raise SystemExit("chromium is not installed (Debian package chromium)")
    with tempfile.TemporaryDirectory() as folder:
        for node, (replay, height) in SCREENSHOTS.items():
            page = Path(folder) / f"{node}.html"
            glm5check("--profile", "a2-multi", "--replay", replay, "--format", "html", "--output", str(page))
            screenshot(browser, page, REPO / "docs" / f"html-report-{node}.png", height)


if __name__ == "__main__":
    wanted = sys.argv[1:] or ["readme", "screenshots"]
    if "readme" in wanted:
        update_readme()
    if "screenshots" in wanted:
        update_screenshots()
