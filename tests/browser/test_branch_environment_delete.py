"""Deleting a branch environment from its page, in a real Chromium at desktop width and on
a 390 px phone (light and dark theme, axe-core finding nothing): the template's delete_role
sees the button, is asked in an in-page dialog, and lands on the board without it; another
role sees no button."""

import pytest
from playwright.sync_api import expect

from pipelines.models import AuditEvent, Environment
from tests.browser.conftest import screenshot
from tests.browser.test_branch_environments_board import TEMPLATE, passing, with_template
from tests.browser.test_contrast_and_themes import axe_violations
from tests.browser.test_login_and_board import log_in
from tests.browser.test_release_steps_page import no_sideways_scroll

pytestmark = pytest.mark.browser

# The board test's template, with a role besides the lead that may delete.
DELETABLE = TEMPLATE + 'delete_role = "developer"\n'


@pytest.fixture
def review(pipeline, settings, tmp_path):
    settings.SLIPWAY_ARTIFACT_DIR = tmp_path / "artifacts"
    passing(with_template(DELETABLE, 3), "feature/gift-cards")
    return Environment.objects.get(name="feature-gift-cards")


@pytest.mark.parametrize(
    "width, theme", [(1280, "light"), (390, "dark")], ids=["desktop-light", "phone-dark"]
)
def test_a_developer_deletes_a_branch_environment_from_its_page(
    slipway_server, review, users, new_page, width, theme
):
    page_url = f"{slipway_server.url}/pipelines/webshop/environments/feature-gift-cards/"
    qa = new_page(width=width)
    log_in(qa, slipway_server, "qa")
    qa.goto(page_url)
    expect(qa.get_by_role("heading", name="feature-gift-cards")).to_be_visible()
    expect(qa.locator('[data-action="delete-environment"]')).to_have_count(0)

    page = new_page(width=width, color_scheme=theme)
    log_in(page, slipway_server, "developer")
    page.goto(page_url)
    button = page.get_by_role("button", name="Delete feature-gift-cards…")
    expect(button).to_be_visible()
    no_sideways_scroll(page)
    assert axe_violations(page) == []
    screenshot(page, f"branch-environment-delete-{width}-{theme}.png", full_page=False)

    button.click()
    dialog = page.get_by_role("dialog", name="Delete feature-gift-cards?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Why? Optional, kept in the audit log.")).to_be_visible()
    no_sideways_scroll(page)
    assert axe_violations(page) == []
    screenshot(page, f"branch-environment-delete-dialog-{width}-{theme}.png", full_page=False)
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()

    button.click()
    dialog.get_by_label("Why? Optional, kept in the audit log.").fill("merged — 🎉")
    dialog.get_by_role("button", name="Delete feature-gift-cards").click()

    expect(page).to_have_url(f"{slipway_server.url}/pipelines/webshop/")
    expect(page.get_by_role("status")).to_contain_text("Deleted feature-gift-cards")
    expect(page.locator("#env-feature-gift-cards")).to_have_count(0)
    deleted = AuditEvent.objects.get(action="branch_environment_deleted")
    assert deleted.actor == users["developer"] and "(merged — 🎉)" in deleted.message
