"""Playwright driving Debian's Chromium (nothing downloads a browser).

These tests run in their own pytest invocation (`make test-browser`):
Playwright's sync API marks the main thread's event loop as running, which
breaks async tests that come after it and makes Django refuse ORM calls from
the test body unless DJANGO_ALLOW_ASYNC_UNSAFE is set.
"""

import os
import threading
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import expect

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
# SLIPWAY_SCREENSHOTS=docs refreshes the README's screenshots; SLIPWAY_LOOK=DIR saves every
# page the tests look at (desktop, phone, both themes) to view them.
SCREENSHOTS = os.environ.get("SLIPWAY_SCREENSHOTS")
LOOK = os.environ.get("SLIPWAY_LOOK")


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
    """new_page(width=…) → a page in a fresh browser context (its own cookies: one person).

    No page may open a native dialog (alert, confirm, prompt): Slipway asks in the page
    itself. Any that opens is dismissed and fails the test."""
    contexts, native_dialogs = [], []

    def refuse(dialog) -> None:
        native_dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def make(width: int = 1280, height: int = 900, color_scheme: str = "light"):
        context = chromium.new_context(
            viewport={"width": width, "height": height}, color_scheme=color_scheme
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", refuse)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not native_dialogs, f"native dialogs were opened: {native_dialogs}"


def confirm(page, opener, action: str) -> None:
    """Click `opener` (a locator), then, in the in-page <dialog> it opens, the button with
    data-action=`action`; the dialog is modal, so nothing else could be clicked meanwhile."""
    opener.click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    dialog.locator(f'[data-action="{action}"]').click()


def screenshot(page, name: str, element=None, *, readme: bool = False, full_page=True) -> None:
    """The whole page (or just `element`, a locator) as `name`: into $SLIPWAY_LOOK, and into
    $SLIPWAY_SCREENSHOTS too when the README shows it."""
    folders = [LOOK] + ([SCREENSHOTS] if readme else [])
    for folder in filter(None, folders):
        Path(folder).mkdir(parents=True, exist_ok=True)
        path = str(Path(folder) / name)
        if element is not None:
            element.screenshot(path=path)
        else:
            page.screenshot(path=path, full_page=full_page)


def in_thread(function, *args):
    """function(*args) in a thread of its own, its result returned. Playwright's sync API
    holds this thread's event loop, so work that publishes to the channel layer (a
    deployment, a sign-off) runs elsewhere; the thread's database connection is closed after
    (PostgreSQL would otherwise keep the session and refuse to drop the test database)."""
    result = []

    def run() -> None:
        try:
            result.append(function(*args))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if not result:
        raise AssertionError(f"{function.__name__} failed in its thread (see the output above)")
    return result[0]
