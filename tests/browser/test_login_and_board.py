"""A person logs in through the form and reads the board, in a real Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.factories import passing_build

pytestmark = pytest.mark.browser


def log_in(page, server, username: str) -> None:
    page.goto(f"{server.url}/pipelines/webshop/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))  # anonymous: sent to log in
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # Wait for the page behind the login to load: clicking before htmx (a deferred script)
    # has processed it would click a button that does nothing yet.
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
    page.wait_for_load_state("load")


def test_a_developer_logs_in_and_sees_what_runs_where(slipway_server, pipeline, users, new_page):
    dev_build = passing_build(pipeline, "dev", tests={"passed": 40, "failed": 1, "skipped": 2})
    uat_build = passing_build(pipeline, "master", coverage="88.5")
    page = new_page()
    log_in(page, slipway_server, "developer")

    expect(page).to_have_url(f"{slipway_server.url}/pipelines/webshop/")
    cards = page.locator("[data-env]")
    expect(cards).to_have_count(3)
    uat = page.locator('[data-env="uat"]')
    expect(uat.locator('[data-field="sha"]')).to_have_text(uat_build.short_sha)
    expect(uat.locator('[data-field="coverage"]')).to_have_text("88.5%")
    dev = page.locator('[data-env="dev"]')
    expect(dev.locator('[data-field="sha"]')).to_have_text(dev_build.short_sha)
    expect(dev.locator('[data-field="tests"]')).to_have_text("40 passed, 1 failed, 2 skipped")
    expect(page.locator('[data-env="live"]')).to_contain_text("Nothing deployed yet")


def test_the_board_reads_on_a_phone(slipway_server, pipeline, users, new_page):
    passing_build(pipeline, "master")
    page = new_page(width=390, height=844)
    log_in(page, slipway_server, "sales")
    expect(page.locator('[data-env="uat"]')).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the board is {overflow}px wider than a 390px phone"


def test_a_wrong_password_keeps_the_person_on_the_login_page(slipway_server, users, new_page):
    page = new_page()
    page.goto(f"{slipway_server.url}/accounts/login/")
    page.get_by_label("Username").fill("lead")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("didn't match")
