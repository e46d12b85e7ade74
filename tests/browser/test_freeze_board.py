"""Scheduled freezes as people see them, in a real Chromium at desktop width and on a 390 px
phone: the board announces the next window ahead of time, then says "frozen until …" with
the frozen cards; a lead's promote dialog asks why it cannot wait, and a refusal shows in
the page."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from pipelines.config import load_pipeline_text
from tests.browser.conftest import screenshot
from tests.browser.test_login_and_board import log_in
from tests.conftest import EXAMPLE_TOML
from tests.promoting import sign_everything, uat_runs_a_new_build

pytestmark = pytest.mark.browser

PHONE = 390
REPO_LINE = 'repository_url = "https://github.com/acme/webshop"\n'


def window(starts_in: timedelta, lasts: timedelta, reason: str) -> str:
    """A one-off window in real time: the server runs in another process."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) + starts_in
    table = (
        f'\n[[pipeline.freezes]]\nreason = "{reason}"\nstart = "{start.isoformat()}"\n'
        f'end = "{(start + lasts).isoformat()}"\ntimezone = "Europe/Berlin"\n'
        'environments = ["live"]\n'
    )
    return EXAMPLE_TOML.replace(REPO_LINE, REPO_LINE + table)


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{width} px wide"


def test_the_board_announces_the_freeze_then_says_frozen_until(
    slipway_server, pipeline, users, new_page
):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    load_pipeline_text(window(timedelta(hours=2, minutes=1), timedelta(days=3), "Black Friday"))
    for width in (1280, PHONE):
        page = new_page(width=width)
        log_in(page, slipway_server, "sales")
        page.goto(f"{slipway_server.url}/pipelines/webshop/")
        banner = page.locator('[data-field="scheduled-freeze"]')
        expect(banner).to_contain_text("❄ Freeze starts in 2 h")
        expect(banner).to_contain_text("Black Friday (live)")
        no_sideways_scroll(page)
        screenshot(page, f"freeze-ahead-{width}.png")

    load_pipeline_text(window(-timedelta(hours=1), timedelta(days=3), "Black Friday"))
    for width in (1280, PHONE):
        page = new_page(width=width)
        log_in(page, slipway_server, "lead")
        page.goto(f"{slipway_server.url}/pipelines/webshop/")
        banner = page.locator('[data-field="scheduled-freeze"]')
        expect(banner).to_contain_text("❄ Frozen until")
        expect(page.locator('#env-live [data-field="state"]')).to_have_text("❄ frozen")
        expect(page.locator('[data-field="window-reason"]')).to_contain_text("breaks the glass")
        no_sideways_scroll(page)
        screenshot(page, f"freeze-during-{width}.png")

    # The lead opens the promote dialog: it asks why this cannot wait.
    page.locator('[data-action="promote"]').click()
    dialog = page.locator("dialog[open]")
    expect(dialog.locator('textarea[name="reason"]')).to_be_visible()
    screenshot(page, "freeze-promote-dialog.png")
    dialog.locator('textarea[name="reason"]').fill("The tax fix — cannot wait 🧾")
    dialog.locator('[data-action="confirm-promote"]').click()
    expect(page.locator('[data-field="notice"]')).to_contain_text("Promotion started")
