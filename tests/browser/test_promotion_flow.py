"""Signing the checklist and promoting, from the board in a real Chromium (htmx, CSP on)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from pipelines import checklist
from pipelines.models import Promotion, Signoff
from tests.browser.conftest import confirm
from tests.browser.test_login_and_board import log_in
from tests.promoting import item, sign_everything, uat_runs_a_new_build

pytestmark = pytest.mark.browser


def candidate_signed_off(pipeline, users):
    candidate = uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    return candidate


def test_qa_signs_its_item_with_the_button(slipway_server, pipeline, users, new_page):
    uat_runs_a_new_build(pipeline)
    page = new_page()
    log_in(page, slipway_server, "qa")
    row = page.locator('[data-checklist-item="smoke-tested"]')
    expect(page.locator('[data-checklist-item="not-mid-demo"] [data-action="sign"]')).to_have_count(
        0
    )
    row.locator('[data-action="sign"]').click()
    expect(row).to_contain_text("signed by qa")
    expect(row.locator('[data-action="revoke"]')).to_be_visible()


def test_the_lead_confirms_the_sha_and_digest_and_promotes(
    slipway_server, pipeline, users, new_page
):
    candidate = candidate_signed_off(pipeline, users)
    page = new_page()
    log_in(page, slipway_server, "lead")
    page.locator('[data-action="promote"]').click()
    dialog = page.get_by_role("dialog", name="Promote uat to live?")
    expect(dialog).to_be_visible()
    # One sentence says what changes; no 64-character digest to read.
    expect(dialog.locator('[data-field="promote-sentence"]')).to_have_text(
        f"live (nothing yet) → {candidate.build.short_sha} · 3/3 signed · the artifact QA tested"
    )
    expect(dialog.get_by_role("button", name="Promote to live")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.locator("#promote-live")).to_contain_text(re.compile(r"Promotion started"))
    expect(dialog).to_have_count(0)
    assert Promotion.objects.get().artifact == candidate.artifact


def test_a_stale_click_shows_what_changed(slipway_server, pipeline, users, new_page):
    candidate_signed_off(pipeline, users)
    page = new_page()
    # A silent board socket: uat's change must not reach this page before the click.
    page.route_web_socket(re.compile(r"/ws/pipelines/"), lambda socket: None)
    log_in(page, slipway_server, "lead")
    expect(page.locator('[data-action="promote"]')).to_be_enabled()
    newer = uat_runs_a_new_build(pipeline)  # after the page loaded
    confirm(page, page.locator('[data-action="promote"]'), "confirm-promote")

    alert = page.locator("#promote-live [role=alert]")
    expect(alert).to_contain_text(f"uat now runs {newer.artifact.digest}")
    expect(alert).to_contain_text("reload and check again")
    assert not Promotion.objects.exists()


def sales_and_support_signed(pipeline, users):
    candidate = uat_runs_a_new_build(pipeline)
    for key, role in (("not-mid-demo", "sales"), ("not-serving-a-customer", "support")):
        checklist.sign(item(pipeline, key), by=users[role])
    return candidate


def test_the_leads_button_enables_live_when_qa_signs_the_last_item(
    slipway_server, pipeline, users, new_page
):
    sales_and_support_signed(pipeline, users)
    lead = new_page()
    log_in(lead, slipway_server, "lead")
    promote = lead.locator('[data-action="promote"]')
    expect(promote).to_be_disabled()
    expect(lead.locator('[data-live-board][data-live="open"]')).to_be_attached()

    qa = new_page()
    log_in(qa, slipway_server, "qa")
    qa.locator('[data-checklist-item="smoke-tested"] [data-action="sign"]').click()

    expect(promote).to_be_enabled()  # over the board's WebSocket: no reload
    expect(lead.locator('[data-checklist-item="smoke-tested"]')).to_contain_text("signed by qa")


def test_the_promote_button_turns_off_when_a_sign_off_expires(
    slipway_server, pipeline, users, new_page
):
    candidate_signed_off(pipeline, users)
    sales = Signoff.objects.get(item=item(pipeline, "not-mid-demo"))  # valid for 30 minutes
    soon = timezone.now() - sales.item.valid_for + timedelta(seconds=8)
    Signoff.objects.filter(pk=sales.pk).update(signed_at=soon)
    lead = new_page()
    log_in(lead, slipway_server, "lead")
    promote = lead.locator('[data-action="promote"]')
    expect(promote).to_be_enabled()

    expect(promote).to_be_disabled(timeout=20_000)  # no news from the server: nothing changed
    expect(
        lead.locator('[data-checklist-item="not-mid-demo"] [data-field="reason"]')
    ).to_contain_text("expired")
