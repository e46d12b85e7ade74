"""Usable by people, in a real Chromium: every control has a name a screen reader can say,
works from the keyboard and shows where the focus is; status is a symbol and a word, never
colour alone; the board and the promotion panel fit a 390 px phone."""

import re

import pytest
from playwright.sync_api import expect

from pipelines import checklist
from pipelines.models import Deployment
from tests.browser.conftest import in_thread
from tests.browser.test_login_and_board import log_in
from tests.promoting import deploy, env, item, uat_runs_a_new_build

pytestmark = pytest.mark.browser

# Roles of the accessibility tree a person operates (Chromium's own computation, over CDP).
CONTROL_ROLES = {
    *("button", "link", "textbox", "combobox", "listbox", "checkbox", "radio", "switch"),
    *("searchbox", "spinbutton", "slider", "menuitem", "tab", "option"),
}
STATUS = re.compile(r"^[✓✗⚠⊘●○–] \w+")


def controls_without_a_name(page) -> tuple[int, list[str]]:
    """(how many controls the page has, the ones whose accessible name is empty)."""
    cdp = page.context.new_cdp_session(page)
    try:
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        cdp.detach()
    controls, unnamed = 0, []
    for node in nodes:
        role = node.get("role", {}).get("value", "")
        focusable = any(
            p["name"] == "focusable" and p["value"].get("value") for p in node.get("properties", [])
        )
        if node.get("ignored") or (role not in CONTROL_ROLES and not focusable):
            continue
        if role in ("RootWebArea", "WebArea"):
            continue
        controls += 1
        if not str(node.get("name", {}).get("value", "")).strip():
            unnamed.append(f"{role} (backend node {node.get('backendDOMNodeId')})")
    return controls, unnamed


def assert_every_control_is_named(page, at_least: int) -> None:
    count, unnamed = controls_without_a_name(page)
    assert not unnamed, f"controls without an accessible name on {page.url}: {unnamed}"
    assert count >= at_least, f"only {count} controls found on {page.url}"


def a_day_of_work(pipeline, users):
    """uat one build ahead of live (deployed by the lead), sales has signed its item."""
    first = uat_runs_a_new_build(pipeline, coverage="88.1")
    deploy(env(pipeline, "live"), first.build, by=users["lead"])
    uat_runs_a_new_build(pipeline, coverage="88.4")
    checklist.sign(item(pipeline, "not-mid-demo"), by=users["sales"])


def test_every_control_has_an_accessible_name(slipway_server, pipeline, users, new_page):
    in_thread(a_day_of_work, pipeline, users)
    page = new_page()
    page.goto(f"{slipway_server.url}/accounts/login/")
    assert_every_control_is_named(page, at_least=3)
    log_in(page, slipway_server, "lead")
    expect(page.locator('[data-action="promote"]')).to_be_visible()
    assert_every_control_is_named(page, at_least=12)  # the board and the promotion panel

    page.get_by_role("link", name="uat", exact=True).first.click()
    expect(page.get_by_role("heading", name="uat", exact=True)).to_be_visible()
    assert_every_control_is_named(page, at_least=5)  # deploy form, roll back, deployments

    deployment = Deployment.objects.filter(environment__name="live").latest("pk")
    page.goto(f"{slipway_server.url}/deployments/{deployment.pk}/")
    expect(page.locator("#deployment-status")).to_have_attribute("data-status", "succeeded")
    assert_every_control_is_named(page, at_least=5)

    qa = new_page()
    log_in(qa, slipway_server, "qa")
    # One Sign button, saying what it signs (a screen reader lists buttons by name).
    expect(qa.get_by_role("button", name="Sign: QA: smoke-tested on uat")).to_have_count(1)
    assert_every_control_is_named(qa, at_least=6)


def tab_to(page, locator, limit: int = 80) -> None:
    """Press Tab until `locator` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if locator.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{limit} presses of Tab never reached {locator}")


@pytest.mark.parametrize("key", ["Enter", " "], ids=["enter", "space"])
def test_qa_signs_from_the_keyboard(slipway_server, pipeline, users, new_page, key):
    in_thread(uat_runs_a_new_build, pipeline)
    page = new_page()
    log_in(page, slipway_server, "qa")
    row = page.locator('[data-checklist-item="smoke-tested"]')
    sign = row.get_by_role("button", name=re.compile("^Sign"))

    tab_to(page, sign)
    outline = sign.evaluate("element => getComputedStyle(element).outlineStyle")
    assert outline != "none", "the focused Sign button shows no focus ring"
    page.keyboard.press(key)

    expect(row).to_contain_text("signed by qa")
    expect(row.get_by_role("button", name=re.compile("^Revoke"))).to_be_visible()


def test_a_keyboard_user_keeps_their_place_when_someone_else_signs(
    slipway_server, pipeline, users, new_page
):
    in_thread(uat_runs_a_new_build, pipeline)
    qa = new_page()
    log_in(qa, slipway_server, "qa")
    expect(qa.locator('[data-live-board][data-live="open"]')).to_be_attached()
    sign = qa.locator('[data-checklist-item="smoke-tested"]').get_by_role(
        "button", name=re.compile("^Sign")
    )
    tab_to(qa, sign)

    sales = new_page()
    log_in(sales, slipway_server, "sales")
    sales.locator('[data-checklist-item="not-mid-demo"] [data-action="sign"]').click()

    # The live update re-renders QA's panel; the focus stays on QA's Sign button.
    expect(qa.locator('[data-checklist-item="not-mid-demo"]')).to_contain_text("signed by sales")
    expect(sign).to_be_focused()


def test_status_is_a_symbol_and_a_word_never_colour_alone(
    slipway_server, pipeline, users, new_page
):
    in_thread(a_day_of_work, pipeline, users)
    page = new_page()
    log_in(page, slipway_server, "developer")
    statuses = page.locator(".status")
    expect(statuses.first).to_be_visible()
    for text in statuses.all_inner_texts():
        assert STATUS.match(text.strip()), f"status {text!r} is not a symbol and a word"

    page.goto(f"{slipway_server.url}/deployments/{Deployment.objects.latest('pk').pk}/")
    expect(page.locator("#deployment-status")).to_have_attribute("data-status", "succeeded")
    for text in page.locator(".status").all_inner_texts():
        assert STATUS.match(text.strip()), f"status {text!r} is not a symbol and a word"


@pytest.mark.parametrize("person", ["lead", "sales"])
def test_the_board_and_the_promotion_panel_fit_a_phone(
    slipway_server, pipeline, users, new_page, person
):
    in_thread(a_day_of_work, pipeline, users)
    page = new_page(width=390, height=844)
    log_in(page, slipway_server, person)
    panel = page.locator("#promote-live")
    expect(panel).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the board is {overflow}px wider than a 390px phone"
    for element in (panel, page.locator('[data-env="uat"]')):
        box = element.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    if person == "sales":  # signs from the phone
        row = page.locator('[data-checklist-item="not-mid-demo"]')
        row.get_by_role("button", name=re.compile("^Revoke")).click()
        expect(row).to_contain_text("revoked by sales")
        row.get_by_role("button", name=re.compile("^Sign")).click()
        expect(row.get_by_role("button", name=re.compile("^Revoke"))).to_be_visible()
        expect(row).to_contain_text("signed by sales")
