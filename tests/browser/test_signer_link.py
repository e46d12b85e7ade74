"""The link a signer is sent (Slack, e-mail) opens their checklist item in a real Chromium:
on a phone, logged in, the item is the page's target, in view, and its Sign button works."""

import re

import pytest
from playwright.sync_api import expect

from pipelines.config import load_pipeline_text
from tests.browser.conftest import in_thread, screenshot
from tests.browser.test_login_and_board import log_in
from tests.conftest import PASSWORD
from tests.promoting import uat_runs_a_new_build
from tests.test_asking_signers import with_signer_notifications
from tests.test_notifications import quick_retries, receiver  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [390, 1280])
def test_the_link_in_slack_lands_a_signer_on_their_item(
    slipway_server,
    pipeline,
    users,
    new_page,
    receiver,  # noqa: F811
    settings,
    width,
):
    settings.SLIPWAY_BASE_URL = slipway_server.url
    load_pipeline_text(with_signer_notifications(receiver.url))
    in_thread(uat_runs_a_new_build, pipeline)
    (text,) = [b["text"] for b in receiver.bodies("/slack") if "please sign" in b["text"]]
    url = re.search(r"<(http[^|>]+)\|Sales: not mid-demo>", text).group(1)
    assert url.startswith(f"{slipway_server.url}/pipelines/webshop/#checklist-live-")

    page = new_page(width=width, height=700)
    log_in(page, slipway_server, "sales")
    page.goto(url)
    row = page.locator("#checklist-live-not-mid-demo")
    expect(row).to_be_in_viewport()
    assert page.evaluate("document.querySelector(':target')?.id") == row.get_attribute("id")
    screenshot(page, f"signer-link-{width}.png", full_page=False)
    row.locator('[data-action="sign"]').click()
    expect(page.locator("#checklist-live-not-mid-demo")).to_contain_text("signed by sales")


@pytest.mark.parametrize("width", [390, 1280])
def test_a_signer_not_logged_in_lands_on_their_item_after_logging_in(
    slipway_server, pipeline, users, new_page, width
):
    """The #anchor never reaches the server: the login page carries it through to `next`,
    past a mistyped password too."""
    in_thread(uat_runs_a_new_build, pipeline)
    page = new_page(width=width, height=700)
    page.goto(f"{slipway_server.url}/pipelines/webshop/#checklist-live-not-mid-demo")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill("sales")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("didn't match")
    page.get_by_label("Username").fill("sales")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{slipway_server.url}/pipelines/webshop/#checklist-live-not-mid-demo")
    row = page.locator("#checklist-live-not-mid-demo")
    expect(row).to_be_in_viewport()
    assert page.evaluate("document.querySelector(':target')?.id") == row.get_attribute("id")
