"""Per-branch environments on the board, in a real Chromium at desktop width and on a 390 px
phone: a compact group under the flow, one row per branch (past six folded away), a failed
one marked, and a branch's first passing build appearing live."""

import pytest
from django.test import TestCase
from playwright.sync_api import expect

from pipelines.artifacts import store_artifact
from pipelines.builds import attach_artifact, record_build
from pipelines.config import load_pipeline_text
from tests.browser.conftest import screenshot
from tests.browser.test_login_and_board import log_in
from tests.browser.test_release_steps_page import no_sideways_scroll
from tests.conftest import EXAMPLE_TOML
from tests.factories import fake_sha
from tests.test_branch_environments import free_ports
from tests.test_cli import slipway

pytestmark = pytest.mark.browser

TEMPLATE = """
[[environments]]
name = "review"
per_branch = true
branch = "feature/*"
driver = "script"
deploy_command = "test {{branch}} != feature-broken-checkout || (echo 'no 0042' >&2; exit 1)"
env = {{ SITE = "http://127.0.0.1:{{port}}/" }}
ports = "{low}-{high}"
idle_days = 14
"""
BRANCHES = (
    "feature/gift-cards",
    "feature/search-as-you-type",
    "feature/broken-checkout",
    "feature/Ünïcödé wishlist",
    "feature/dark-mode",
    "feature/a-very-long-branch-name-that-someone-typed-without-thinking-about-phones",
    "feature/ratings",
    "feature/coupons",
)


def passing(pipeline, branch: str):
    with TestCase.captureOnCommitCallbacks(execute=True):
        build, _ = record_build(pipeline, sha=fake_sha(branch), branch=branch, status="passed")
        attach_artifact(build, store_artifact([branch.encode()]))
    return build


def with_template(template: str, ports: int):
    """The example pipeline with `template` before live, its "{low}-{high}" `ports` free
    ports."""
    low, high = free_ports(ports)
    text = EXAMPLE_TOML.replace(
        '[[environments]]\nname = "live"',
        template.format(low=low, high=high) + '\n[[environments]]\nname = "live"',
    )
    return load_pipeline_text(text, "webshop.toml")


@pytest.fixture
def shop(pipeline, settings, tmp_path):
    settings.SLIPWAY_ARTIFACT_DIR = tmp_path / "artifacts"
    loaded = with_template(TEMPLATE, 20)
    passing(loaded, "dev")
    for branch in BRANCHES:
        passing(loaded, branch)
    return loaded


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_branch_environments_are_a_compact_group_under_their_template(
    slipway_server, shop, users, new_page, width
):
    page = new_page(width=width)
    log_in(page, slipway_server, "developer")

    group = page.locator("#env-review")
    expect(group).to_be_visible()
    expect(group.locator(".branch-list").first.locator("li")).to_have_count(6)
    expect(group.locator("summary")).to_have_text("2 more branch environments")
    broken = group.locator("#env-feature-broken-checkout")
    expect(broken).to_have_attribute("data-state", "failed")
    expect(broken.locator("[data-field=state]")).to_have_text("✗ failed")
    expect(page.locator("#board #env-feature-gift-cards")).to_have_count(0)  # not in the flow
    no_sideways_scroll(page)
    screenshot(page, f"branch-environments-{width}.png")

    group.locator("summary").click()
    expect(group.locator("li.branch-env")).to_have_count(8)
    no_sideways_scroll(page)
    screenshot(page, f"branch-environments-{width}-all.png")


def test_a_branch_first_passing_build_appears_in_the_group_live(
    slipway_server, shop, users, new_page, token_for, tmp_path
):
    page = new_page()
    log_in(page, slipway_server, "developer")
    expect(page.locator("[data-live-board]")).to_have_attribute("data-live", "open")
    artifact = tmp_path / "late.tar.gz"
    artifact.write_bytes(b"late arrival")

    pushed = slipway(
        *("push", "--pipeline", "webshop", "--sha", fake_sha("late"), "--status", "passed"),
        *("--branch", "feature/late-arrival", "--artifact", str(artifact)),
        env={"SLIPWAY_URL": slipway_server.url, "SLIPWAY_TOKEN": token_for("developer")},
    )

    assert pushed.returncode == 0, pushed.stderr
    expect(page.locator("#env-review #env-feature-late-arrival")).to_be_visible()
    expect(page.locator("#env-review [data-field=template]")).to_contain_text("9 in use")
