"""Drive the playground in a headless Chromium: the screenshots in docs/figures and the browser tests.

Playwright's Python package drives the system's Chromium (Debian's ``chromium`` package), never a browser build
of its own (``playwright install`` is not needed). The browser starts with a fresh profile and with its background
traffic off (component updates, sync, safe-browsing lists, QUIC), so the only requests it makes are the page's own.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-domain-reliability",
)  # fmt: skip
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 60_000  # the longest call (classifying the example) takes seconds; a stuck page fails after a minute
TABS = {"forecast": "Forecast", "convert": "Series <-> image", "classify": "Classify", "generate": "Generate"}


def chromium_executable() -> str | None:
    """$TIMEARTIST_CHROMIUM, else ``chromium`` on the PATH (Debian: /usr/bin/chromium); None when there is none."""
    return os.environ.get("TIMEARTIST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def unavailable() -> str | None:
    """Why the browser cannot run here (None: it can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright; its browser download is not needed)"
    if chromium_executable() is None:
        return "no Chromium found (apt-get install chromium, or set TIMEARTIST_CHROMIUM to its executable)"
    return None


@contextmanager
def chromium(on_request: Callable[[str], None] | None = None) -> Iterator:
    """A Playwright browser context in a headless Chromium with a fresh profile; ``on_request(url)`` sees every
    request any of its pages makes."""
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="timeartist-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium_executable(), headless=True, args=list(CHROMIUM_ARGS), viewport=VIEWPORT,
        )  # fmt: skip
        context.set_default_timeout(TIMEOUT_MS)
        if on_request is not None:
            context.on("request", lambda request: on_request(request.url))
        try:
            yield context
        finally:
            context.close()


def open_app(context, url: str):
    """A new page with the playground loaded and ready (its first button rendered)."""
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#forecast-run")
    return page


def show_tab(page, tab: str) -> None:
    page.get_by_role("tab", name=TABS[tab]).click()


def status(page, elem_id: str) -> str:
    """The text of the status line ``elem_id`` (without the progress timer shown over it while it runs)."""
    return page.inner_text(f"#{elem_id} p").strip()


def after(page, elem_id: str, action: Callable[[], None]) -> str:
    """Do ``action`` and wait for the status line ``elem_id`` to show a new outcome; returns its text."""
    line = f"#{elem_id} p"
    before = page.get_attribute(line, "data-run") if page.locator(line).count() else None
    action()
    page.wait_for_function(
        "([line, before]) => { const p = document.querySelector(line); return p !== null && p.dataset.run !== before; }", arg=[line, before]
    )
    return status(page, elem_id)


def upload(page, elem_id: str, path: str | os.PathLike) -> None:
    """Put a file into the file component ``elem_id``, replacing the one it holds."""
    clear = page.locator(f"#{elem_id} button[aria-label='Clear']")
    if clear.count():
        clear.first.click()
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))


def pick(page, elem_id: str, option: str) -> None:
    """Choose ``option`` in the dropdown ``elem_id``."""
    page.click(f"#{elem_id} input")
    page.locator(f"#{elem_id} li[aria-label='{option}']").click()


def take_screenshots(url: str, out_dir: str | os.PathLike, photo: str | os.PathLike | None = None, context=None) -> list[Path]:
    """One full-page screenshot of each tab in use, ``playground_<tab>.png`` in ``out_dir``: the first example series
    forecast, its pictures beside ``photo`` (default: ``example_photo``) and their mix, the classification example,
    and generated images. ``context``: a browser context of ``chromium()`` to use (default: a new one)."""
    from timeartist.serve.examples import SERIES_EXAMPLES

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    example = next(iter(SERIES_EXAMPLES))
    shots = []

    def shoot(tab: str, *results: str) -> None:
        """Wait for the tab's ``results`` (selectors) and for every picture (those below the fold load lazily, so
        scroll past them), then take the shot with the fade-in transitions finished."""
        for selector in results:
            page.wait_for_selector(selector)
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_function("Array.from(document.images).every((image) => image.complete && image.naturalWidth > 0)")
        page.evaluate("window.scrollTo(0, 0)")
        shots.append(out / f"playground_{tab}.png")
        page.screenshot(path=str(shots[-1]), full_page=True, animations="disabled")

    with nullcontext(context) if context is not None else chromium() as context, tempfile.TemporaryDirectory() as tmp:
        photo = photo or example_photo(tmp)
        page = open_app(context, url)
        after(page, "forecast-status", lambda: pick(page, "forecast-example", example))
        after(page, "forecast-status", lambda: page.click("#forecast-run"))
        shoot("forecast", "#forecast-plot img", "#forecast-canvas img", "#forecast-table td", "#forecast-download a")
        show_tab(page, "convert")
        after(page, "convert-status", lambda: pick(page, "convert-example", example))
        after(page, "style-status", lambda: page.click("#convert-run"))
        after(page, "style-status", lambda: upload(page, "photo-file", photo))
        shoot("convert", "#convert-series img", "#convert-pictures img", "#photo-seen img", "#photo-series img", "#style-image img")
        show_tab(page, "classify")
        after(page, "classify-status", lambda: page.click("#classify-example"))
        after(page, "classify-status", lambda: page.click("#classify-run"))
        shoot("classify", "#classify-table td", "#classify-prototypes img", "#classify-download a")
        show_tab(page, "generate")
        after(page, "generate-status", lambda: page.click("#generate-run"))
        shoot("generate", "#generate-gallery img")
        page.close()
    return shots


def example_photo(folder: str | os.PathLike) -> Path:
    """scikit-image's cat photo (``skimage.data.chelsea``) written as PNG into ``folder``: the screenshots' upload."""
    import skimage.data
    from PIL import Image

    path = Path(folder) / "chelsea.png"
    Image.fromarray(skimage.data.chelsea()).save(path)
    return path
