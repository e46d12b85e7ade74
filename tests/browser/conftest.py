"""Playwright driving Debian's Chromium (nothing downloads a browser).

These tests run in their own pytest invocation (`make test-browser`):
Playwright's sync API marks the main thread's event loop as running, which
breaks async tests that come after it and makes Django refuse ORM calls from
the test body unless DJANGO_ALLOW_ASYNC_UNSAFE is set (DESIGN §8).
"""

import os
from pathlib import Path

import pytest

from tests.services import need_chromium

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Set SLIPWAY_SCREENSHOTS=docs to refresh the README's screenshots.
SCREENSHOTS = os.environ.get("SLIPWAY_SCREENSHOTS")


@pytest.fixture(scope="session")
def chromium():
    executable = need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium):
    """new_page(width=…) → a page in a fresh browser context (its own cookies: one person)."""
    contexts = []

    def make(width: int = 1280, height: int = 900):
        context = chromium.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=True)
