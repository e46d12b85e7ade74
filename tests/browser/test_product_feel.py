"""The product as its people feel it, in a real Chromium at 1280×900 and on a 390×844 phone:
text shows as typed, the board says what each environment is doing, the promotion panel says
what state it is in, guarded actions look guarded and ask in the page, a signer signs with
one tap."""

import re

import pytest
from playwright.sync_api import expect

from pipelines import checklist, locks, promotion
from pipelines.models import Deployment, Promotion
from tests.browser.conftest import confirm, in_thread, screenshot
from tests.browser.test_login_and_board import log_in
from tests.promoting import (
    deploy,
    env,
    finish_queued,
    item,
    sign_everything,
    uat_runs_a_new_build,
)
from tests.watching import running_deployment

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
# What sticks out to the right of the screen, to name it when a page scrolls sideways.
WIDE = """() => Array.from(document.querySelectorAll('body *'))
  .filter((e) => e.getBoundingClientRect().right > innerWidth + 0.5)
  .map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)
  .slice(0, 10)"""
REASON = "Black Friday — don’t ship 🚫"


LOCK_AND_CARD = """() => {
  const card = document.querySelector('[data-env="live"]');
  const right = (e) => e.getBoundingClientRect().right;
  return [right(card.querySelector('[data-field="lock"]')), right(card)];
}"""


def page_width_overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_a_lock_reason_shows_exactly_as_typed_and_wraps_inside_its_card_on_a_phone(
    slipway_server, pipeline, users, new_page
):
    page = new_page(**PHONE)
    log_in(page, slipway_server, "lead")
    confirm_lock = page.get_by_role("dialog", name="Lock live")
    page.get_by_role("button", name="Lock live…").click()
    confirm_lock.get_by_label("Why?").fill(f"{REASON} {'x' * 80}")  # and one endless word
    confirm_lock.get_by_role("button", name="Lock live").click()

    lock = page.locator('[data-env="live"] [data-field="lock"]')
    expect(lock.locator("q")).to_have_text(f"{REASON} {'x' * 80}")
    assert locks.lock_on(env(pipeline, "live")).reason == f"{REASON} {'x' * 80}"
    # Both boxes in one turn of the page: the live board may swap the card in meanwhile.
    text_right, card_right = page.evaluate(LOCK_AND_CARD)
    assert text_right <= card_right + 0.5, (text_right, card_right)
    assert page_width_overflow(page) == 0
    expect(page.locator('[data-env="live"] [data-field="state"]')).to_have_text("🔒 locked")

    # The freeze says its reason once, for the whole board.
    page.get_by_role("button", name="Freeze all…").click()
    freeze = "Release party 🎉 — “no” deploys"
    page.get_by_role("dialog", name=re.compile("Freeze every environment")).get_by_label(
        "Why?"
    ).fill(freeze)
    page.locator('[data-action="confirm-freeze"]').click()
    banner = page.locator('[data-field="freeze"]')
    expect(banner.locator("q")).to_have_text(freeze)
    expect(page.locator("[data-env]").get_by_text(freeze)).to_have_count(0)  # not per card
    expect(page.locator('[data-env="dev"] [data-field="state"]')).to_have_text("❄ frozen")
    assert page_width_overflow(page) == 0
    screenshot(page, "board-frozen-phone.png")


def test_dialogs_are_in_the_page_and_work_from_the_keyboard(
    slipway_server, pipeline, users, new_page
):
    page = new_page()
    log_in(page, slipway_server, "lead")
    opener = page.get_by_role("button", name="Lock dev…")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Lock dev")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Why?")).to_be_focused()  # typing goes where it should
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert not locks.lock_on(env(pipeline, "dev"))

    # An empty reason is refused by the form itself; the dialog stays open.
    opener.click()
    dialog.get_by_role("button", name="Lock dev").click()
    expect(dialog).to_be_visible()
    dialog.get_by_label("Why?").fill("Demo at 3pm")
    dialog.get_by_role("button", name="Lock dev").click()
    expect(page.locator('[data-env="dev"] [data-field="lock"]')).to_contain_text("Demo at 3pm")

    confirm(page, page.get_by_role("button", name="Unlock dev…"), "confirm-unlock")
    expect(page.locator('[data-env="dev"] [data-field="lock"]')).to_have_count(0)
    expect(page.get_by_role("button", name="Lock dev…")).to_be_visible()


def promoted(pipeline, users):
    """live runs what uat runs, promoted after every item was signed."""
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    live = env(pipeline, "live")
    promotion.promote(pipeline, live.promote_from, live, by=users["lead"])
    finish_queued(live)


def test_after_a_promotion_the_panel_says_up_to_date_and_offers_no_sign_off(
    slipway_server, pipeline, users, new_page
):
    in_thread(promoted, pipeline, users)
    for person in ("qa", "lead"):
        page = new_page()
        log_in(page, slipway_server, person)
        panel = page.locator("#promote-live")
        expect(panel.locator('[data-field="panel-state"]')).to_contain_text(
            "live is up to date with uat"
        )
        expect(panel.get_by_role("button")).to_have_count(0)
        expect(panel).not_to_contain_text("doesn't count")
        expect(panel).not_to_contain_text("Waiting for")
        expect(page.locator("#hop-live")).to_contain_text("up to date")
        expect(page.locator('[data-env="live"] [data-field="state"]')).to_have_text("✓ healthy")


def test_a_running_promotion_is_said_and_linked_from_the_panel(
    slipway_server, pipeline, users, new_page
):
    def deploying_live():
        uat_runs_a_new_build(pipeline)
        sign_everything(pipeline, users)
        return running_deployment(pipeline, "live")

    deployment = in_thread(deploying_live)
    page = new_page()
    log_in(page, slipway_server, "lead")
    state = page.locator('#promote-live [data-field="panel-state"]')
    expect(state).to_contain_text("A deployment of live is running")
    expect(page.locator("#promote-live [data-action=sign]")).to_have_count(0)
    expect(page.locator("#hop-live")).to_contain_text("deploying now")
    expect(page.locator('[data-env="live"] [data-field="state"]')).to_contain_text("● deploying")
    state.get_by_role("link", name=f"follow deployment #{deployment.pk}").click()
    expect(page).to_have_url(f"{slipway_server.url}/deployments/{deployment.pk}/")


def test_a_signer_signs_with_one_tap_on_a_phone(slipway_server, pipeline, users, new_page):
    in_thread(uat_runs_a_new_build, pipeline)
    page = new_page(**PHONE)
    log_in(page, slipway_server, "sales")
    expect(page.locator('[data-field="who"]')).to_contain_text("sales")  # who is logged in

    yours = page.locator('[data-field="your-signoff"]')
    sign = yours.get_by_role("button", name="Sign: Sales: not mid-demo")
    box = sign.bounding_box()
    assert box["height"] >= 44, box
    assert box["width"] >= yours.locator("ul").bounding_box()["width"] - 1, box  # full width
    assert box["width"] >= 300, box
    assert box["y"] + box["height"] <= 844, f"the Sign button is below the fold: {box}"
    expect(yours.locator('[data-field="progress"]')).to_have_text("0 of 3 signed")
    screenshot(page, "signing-phone.png")

    sign.click()
    expect(yours.locator('[data-field="progress"]')).to_have_text(
        re.compile(r"^1 of 3 signed · counts until \d\d:\d\d$")
    )
    revoke = yours.get_by_role("button", name="Revoke: Sales: not mid-demo")
    # The htmx answer and the board's WebSocket frame each swap the panel in: measured in one
    # step once shown, not between the two swaps (bounding_box read a detached button).
    expect(revoke).to_be_visible()
    assert revoke.evaluate("button => button.getBoundingClientRect().height") >= 44
    # Only controls look like controls: the others' items are text with a mark, no box.
    others = page.locator('[data-checklist-item="smoke-tested"]')
    expect(others.get_by_role("button")).to_have_count(0)
    expect(others.locator(".mark")).to_have_text("○")
    assert page_width_overflow(page) == 0
    revoke.click()
    expect(yours.locator('[data-field="progress"]')).to_have_text("0 of 3 signed")


def test_deploying_live_outside_promotion_is_a_guarded_secondary_action(
    slipway_server, pipeline, users, new_page
):
    release = in_thread(uat_runs_a_new_build, pipeline)
    page = new_page()
    log_in(page, slipway_server, "lead")
    page.goto(f"{slipway_server.url}/pipelines/webshop/environments/live/")
    button = page.get_by_role("button", name="Deploy outside promotion…")
    expect(button).not_to_have_class(re.compile("primary"))
    button.click()
    dialog = page.get_by_role("dialog", name="Deploy to live outside promotion")
    expect(dialog.get_by_label("Build")).to_have_value("")  # nothing chosen for the person
    dialog.get_by_role("button", name="Deploy to live").click()
    expect(dialog).to_be_visible()  # the form wants a build and a reason first
    dialog.get_by_label("Build").select_option(release.build.sha)
    dialog.get_by_role("button", name="Deploy to live").click()
    expect(dialog).to_be_visible()
    assert not Deployment.objects.filter(environment__name="live").exists()
    page.keyboard.press("Escape")

    # A lock shows before any click, and the button says it cannot go.
    in_thread(lambda: locks.lock(pipeline, env(pipeline, "live"), by=users["lead"], reason=REASON))
    page.reload()
    expect(page.locator('[data-field="lock"] q')).to_have_text(REASON)
    expect(page.get_by_role("button", name="Deploy outside promotion…")).to_be_disabled()

    developer = new_page()
    log_in(developer, slipway_server, "developer")
    developer.goto(f"{slipway_server.url}/pipelines/webshop/environments/live/")
    expect(developer.locator('[data-field="role-note"]')).to_contain_text(
        "only a team lead promotes, rolls back or deploys here"
    )
    expect(developer.get_by_role("button", name=re.compile("Deploy"))).to_have_count(0)


def every_page(server, deployment_pk: int) -> list[str]:
    return [
        "/pipelines/webshop/",
        "/pipelines/webshop/environments/dev/",
        "/pipelines/webshop/environments/uat/",
        "/pipelines/webshop/environments/live/",
        f"/deployments/{deployment_pk}/",
        "/pipelines/webshop/environments/live/flags/",
        "/pipelines/webshop/audit/",
        "/pipelines/nothing-here/",
    ]


def a_day_of_work(pipeline, users):
    first = uat_runs_a_new_build(pipeline, coverage="88.1")
    deploy(env(pipeline, "live"), first.build, by=users["lead"])
    uat_runs_a_new_build(pipeline, coverage="88.4")
    checklist.sign(item(pipeline, "not-mid-demo"), by=users["sales"], note=REASON)
    locks.lock(pipeline, env(pipeline, "dev"), by=users["lead"], reason=REASON * 3)
    return Deployment.objects.filter(environment__name="live").latest("pk").pk


@pytest.mark.parametrize("person", ["lead", "sales"])
def test_no_page_scrolls_sideways_on_a_phone(slipway_server, pipeline, users, new_page, person):
    deployment = in_thread(a_day_of_work, pipeline, users)
    page = new_page(**PHONE)
    page.goto(f"{slipway_server.url}/accounts/login/")
    assert page_width_overflow(page) == 0, "login"
    log_in(page, slipway_server, person)
    for path in every_page(slipway_server, deployment):
        page.goto(f"{slipway_server.url}{path}")
        page.wait_for_load_state("load")
        width = page.evaluate("document.documentElement.scrollWidth")
        wide = page.evaluate(WIDE)
        assert width == 390, f"{path} is {width}px wide on a 390px phone: {wide}"
        name = path.strip("/").replace("/", "-") or "index"
        screenshot(page, f"phone-{person}-{name}.png")
    assert not Promotion.objects.exists()


def test_a_time_says_when_in_full_on_hover_and_on_tap(slipway_server, pipeline, users, new_page):
    in_thread(uat_runs_a_new_build, pipeline)
    page = new_page(**PHONE)
    log_in(page, slipway_server, "developer")
    deployed = page.locator('[data-env="uat"] [data-field="deployed"] time')
    expect(deployed).to_have_text(re.compile(r"(just now|seconds? ago)$"))
    absolute = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")
    expect(deployed).to_have_attribute("title", absolute)
    deployed.click()  # a tap on a phone
    expect(deployed).to_have_text(absolute)
    deployed.click()
    expect(deployed).to_have_text(re.compile(r"(just now|ago)$"))


def test_a_lead_rolls_back_to_the_release_of_the_row_asked_in_one_dialog(
    slipway_server, pipeline, users, new_page
):
    """One dialog serves every row: it names the release of the row whose button opened it,
    and rolling back deploys that release's artifact again."""
    first, second, _ = (in_thread(uat_runs_a_new_build, pipeline) for _ in range(3))
    page = new_page()
    log_in(page, slipway_server, "lead")
    page.goto(f"{slipway_server.url}/pipelines/webshop/environments/uat/")

    page.get_by_role("button", name=f"Roll back to {second.label}…").click()
    dialog = page.get_by_role("dialog", name=f"Roll uat back to {second.label}?")
    expect(dialog).to_contain_text(f"→ {second.build.short_sha}")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.get_by_role("button", name=f"Roll back to {first.label}…").click()
    dialog = page.get_by_role("dialog", name=f"Roll uat back to {first.label}?")
    expect(dialog).to_contain_text(f"→ {first.build.short_sha}")
    screenshot(page, "rollback-dialog.png", full_page=False)
    page.set_viewport_size(PHONE)
    screenshot(page, "rollback-dialog-phone.png", full_page=False)
    dialog.get_by_role("button", name=f"Roll back to {first.label}").click()
    expect(dialog).to_be_hidden()

    in_thread(finish_queued, env(pipeline, "uat"))
    uat = in_thread(env, pipeline, "uat")
    assert uat.current_release.artifact_id == first.artifact_id
    assert uat.current_release.pk not in (first.pk, second.pk)  # deployed again, as new
