"""The insight pages in a real Chromium, on a desktop and on a 390 px phone: the metrics page
and its charts, the badge on the environment page, the probe and trends on the cards."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from pipelines.models import Environment, Probe
from tests.browser.conftest import in_thread
from tests.browser.test_accessibility import assert_every_control_is_named
from tests.browser.test_login_and_board import log_in
from tests.promoting import deploy, env, uat_runs_a_new_build

pytestmark = pytest.mark.browser


def history(pipeline, users):
    """live runs one build, uat two; live's target drifted."""
    first = uat_runs_a_new_build(pipeline, coverage="86.0")
    deploy(env(pipeline, "live"), first.build, by=users["lead"])
    uat_runs_a_new_build(pipeline, coverage="87.5")
    live = env(pipeline, "live")
    Environment.objects.filter(pk=live.pk).update(version_url="http://127.0.0.1:9/__version__")
    now = timezone.now()
    Probe.objects.create(
        environment=live,
        status="drift",
        serving_sha="abc1234",
        deployed_sha=first.build.sha,
        checked_at=now,
        since=now,
    )


@pytest.mark.parametrize("width", [1280, 390])
def test_the_metrics_page_fits_and_names_its_charts(
    slipway_server, pipeline, users, new_page, width
):
    in_thread(history, pipeline, users)
    page = new_page(width=width, height=900)
    log_in(page, slipway_server, "qa")
    page.get_by_role("link", name="Metrics").click()
    expect(page.get_by_role("heading", name="Delivery metrics of live")).to_be_visible()
    for name in ("Deployments a week", "Change failure rate of the week"):
        expect(page.get_by_role("img", name=name)).to_be_visible()
    page.get_by_role("link", name="7 days").click()
    expect(page.get_by_role("link", name="7 days")).to_have_attribute("aria-current", "page")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the metrics page is {overflow}px wider than the window"
    assert_every_control_is_named(page, at_least=6)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_cards_show_the_probe_and_the_trends(slipway_server, pipeline, users, new_page, width):
    in_thread(history, pipeline, users)
    page = new_page(width=width, height=900)
    log_in(page, slipway_server, "developer")
    live = page.locator('[data-env="live"]')
    expect(live.locator('[data-field="probe"]')).to_contain_text("drift: serves abc1234")
    uat = page.locator('[data-env="uat"]')
    expect(
        uat.get_by_role(
            "img", name="Coverage of the last 2 releases of uat (low 86.0%, high 87.5%)"
        )
    ).to_be_visible()
    expect(uat.locator('[data-field="coverage-vs"]')).to_have_text("(+1.5 pt vs live)")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the board is {overflow}px wider than the window"


def test_the_environment_page_shows_a_badge_that_renders(slipway_server, pipeline, users, new_page):
    in_thread(history, pipeline, users)
    page = new_page(width=390, height=844)
    log_in(page, slipway_server, "sales")
    page.goto(f"{slipway_server.url}/pipelines/webshop/environments/uat/")
    badge = page.get_by_role("img", name="uat status badge")
    expect(badge).to_be_visible()
    width = badge.evaluate("image => image.complete ? image.naturalWidth : 0")
    assert width > 60, "the badge SVG did not render"
    expect(page.get_by_label("Markdown, for a README")).to_have_value(
        f"[![webshop uat]({slipway_server.url}/pipelines/webshop/environments/uat/badge.svg"
        f"?token=YOUR_TOKEN)]({slipway_server.url}/pipelines/webshop/environments/uat/)"
    )
