"""Browser tests: Debian's chromium, headless, driven by Playwright, against the app serving the sample territory.

Every page fails its test on a request that leaves 127.0.0.1 (the request is aborted and recorded) and on any
console error or uncaught exception. Playwright never downloads a browser here: it is pointed at the system one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers import app_settings, free_port, serve

CHROMIUM = os.environ.get("URBASIG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--enable-unsafe-swiftshader",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
DOCS = Path(__file__).resolve().parents[2] / "docs"
# The screenshots of docs/ are rewritten only when asked (`make screenshots`): a test run leaves the tree clean.
SHOTS = DOCS if os.environ.get("URBASIG_SCREENSHOTS") == "1" else Path(os.environ.get("TMPDIR", "/tmp")) / "urbasig-shots"


def shoot(page, name: str, **options) -> Path:
    """Screenshot `page` as `name` (docs/ with URBASIG_SCREENSHOTS=1, else a temporary folder); its path."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path), **options)
    return path


@pytest.fixture(scope="session")
def site(sample_url):
    """The app serving the sample territory (tests/conftest.py `sample_url`) on a loopback port: its base URL."""
    from app import create_app

    port = free_port()
    app = create_app(app_settings(sample_url, pool_min=1, pool_max=6, public_url=f"http://127.0.0.1:{port}",
                                  indicative_per_minute=100_000, checks_per_minute=100_000))
    server, base = serve(app, port)
    yield base
    server.shutdown()


@pytest.fixture(scope="package")
def browser():
    """One headless chromium for the browser tests, stopped after them: Playwright's synchronous API runs an
    event loop in the main thread while it lives, and the rest of the suite (pyHanko's signing calls
    asyncio.run) must not run inside it."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium introuvable ({CHROMIUM}) : `make setup` l'installe (paquet Debian chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class Watch:
    """What a page did wrong: requests that left 127.0.0.1, console errors, uncaught exceptions."""

    def __init__(self) -> None:
        self.outside: list[str] = []
        self.errors: list[str] = []

    def check(self) -> None:
        """Fail the test on anything recorded."""
        assert not self.outside, f"requêtes hors de 127.0.0.1 : {self.outside}"
        assert not self.errors, f"erreurs dans la console : {self.errors}"


def open_context(browser, watch: Watch, **options):
    """A fresh browser context (no cookies) whose every request is checked to stay on 127.0.0.1."""
    context = browser.new_context(locale=options.pop("locale", "fr-FR"), **options)

    def guard(route):
        url = route.request.url
        host = urlsplit(url).hostname
        if url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            watch.outside.append(url)
            route.abort()

    context.route("**/*", guard)
    return context


def watch_page(context, watch: Watch):
    """A page of `context` whose console errors and uncaught exceptions are recorded in `watch`."""
    page = context.new_page()
    page.on("console", lambda msg: watch.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    return page


@pytest.fixture
def watch():
    """The page's faults, checked at the end of the test."""
    faults = Watch()
    yield faults
    faults.check()


@pytest.fixture
def page(browser, watch):
    """A desktop-sized page (1280×800) in a fresh context."""
    context = open_context(browser, watch, viewport={"width": 1280, "height": 800})
    yield watch_page(context, watch)
    context.close()


@pytest.fixture
def phone(browser, watch):
    """A phone-sized page (390×844, touch)."""
    context = open_context(browser, watch, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    yield watch_page(context, watch)
    context.close()


def wait_until(page, expression: str, timeout_s: float = 20.0):
    """Poll a JavaScript expression until it is truthy; its value.

    Not page.wait_for_function: Playwright compiles that predicate with eval inside the page, which the
    Content-Security-Policy (script-src 'self', no 'unsafe-eval') refuses; page.evaluate goes through the
    DevTools protocol and is not subject to it.
    """
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"toujours faux après {timeout_s:g} s : {expression}")
        time.sleep(0.05)
