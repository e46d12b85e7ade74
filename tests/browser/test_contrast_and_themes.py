"""axe-core (Deque's accessibility engine, vendored from npm for these tests) finds nothing
wrong on the board, an environment, a deployment and the audit log, in the light theme and
in the dark one (prefers-color-scheme): names, roles, structure and WCAG AA contrast."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from pipelines import checklist, locks
from pipelines.models import Deployment
from tests.browser.conftest import in_thread, screenshot
from tests.browser.test_login_and_board import log_in
from tests.promoting import deploy, env, item, uat_runs_a_new_build

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"


def axe_violations(page) -> list[str]:
    """What axe-core reports on the page as it is now, one line per failing element.
    (Evaluated over the DevTools protocol, which the page's CSP does not govern.)"""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    results = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}: {node.get('failureSummary')}"
        for v in results
        for node in v["nodes"]
    ]


def a_day_of_work(pipeline, users) -> int:
    """live one build behind uat, sales signed, dev locked; returns live's deployment."""
    first = uat_runs_a_new_build(pipeline, coverage="88.1")
    deploy(env(pipeline, "live"), first.build, by=users["lead"])
    uat_runs_a_new_build(pipeline, coverage="88.4")
    checklist.sign(item(pipeline, "not-mid-demo"), by=users["sales"], note="after the demo")
    locks.lock(pipeline, env(pipeline, "dev"), by=users["lead"], reason="Demo at 3pm")
    return Deployment.objects.filter(environment__name="live").latest("pk").pk


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("person", ["lead", "sales"])
def test_axe_finds_no_violations_on_the_main_pages_in_either_theme(
    slipway_server, pipeline, users, new_page, theme, person
):
    deployment = in_thread(a_day_of_work, pipeline, users)
    page = new_page(color_scheme=theme)
    log_in(page, slipway_server, person)
    pages = {
        "board": "/pipelines/webshop/",
        "environment": "/pipelines/webshop/environments/live/",
        "deployment": f"/deployments/{deployment}/",
        "audit": "/pipelines/webshop/audit/",
    }
    found = {}
    for name, path in pages.items():
        page.goto(f"{slipway_server.url}{path}")
        expect(page.locator("main")).to_be_visible()
        page.wait_for_load_state("load")
        if name == "deployment":
            expect(page.locator("#deployment-status")).to_have_attribute("data-status", "succeeded")
        violations = axe_violations(page)
        if violations:
            found[name] = violations
        screenshot(page, f"{theme}-{person}-{name}.png")
    assert not found, found


def test_axe_does_find_a_nameless_button_and_grey_on_grey_text(
    slipway_server, pipeline, users, new_page
):
    """The check above can fail: axe reports what it should on a page made wrong on purpose."""
    page = new_page()
    log_in(page, slipway_server, "developer")
    page.evaluate(
        """() => {
          const main = document.querySelector("main");
          main.append(document.createElement("button"));
          const faint = main.appendChild(document.createElement("p"));
          faint.textContent = "faint";
          Object.assign(faint.style, { color: "#999", background: "#aaa" });
        }"""
    )
    found = " ".join(axe_violations(page))
    assert "button-name" in found and "color-contrast" in found, found
