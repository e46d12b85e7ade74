"""A board of two to ten environments in a real Chromium at 1280 px and on a 390 px phone:
the page never scrolls sideways, every card stays wide enough to read, and the cards and the
promotions between them read in pipeline order, wrapping into rows when they do not fit one."""

import pytest
from playwright.sync_api import expect

from pipelines import checklist, locks
from pipelines.config import load_pipeline_text
from tests.browser.conftest import in_thread, screenshot
from tests.browser.test_contrast_and_themes import axe_violations
from tests.browser.test_login_and_board import log_in
from tests.factories import passing_build
from tests.promoting import deploy, env

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
# The promoted stages after dev and uat, in order; live is always last.
STAGES = ("qa", "staging", "preprod", "canary", "live-eu", "live-us", "live-apac")
# The narrowest a card may be (px): 19rem. Its widest line that must not break is the
# artifact, "sha256:" and 12 hex digits (168 px of monospace) beside the card's labels (82 px),
# with the gap, padding and a locked card's 2 px borders: 300 px. Checked below as well: every
# digest reads on one line.
READABLE_CARD = 304


def environment_names(count: int) -> list[str]:
    return ["dev", "uat", *STAGES][: count - 1] + ["live"]


def pipeline_toml(names: list[str]) -> str:
    """dev deploys builds of main; uat (when there is one) too, and each stage after is
    promoted from the one before; live asks sales to sign."""
    parts = ['[pipeline]\nname = "webshop"\nrepository_url = "https://github.com/acme/webshop"']
    for position, name in enumerate(names):
        if position == 0 or (position == 1 and name == "uat"):
            source = 'branch = "main"'
        else:
            source = f'promote_from = "{names[position - 1]}"'
        parts.append(f'[[environments]]\nname = "{name}"\n{source}')
    parts.append(
        '[[environments.checklist]]\nkey = "not-mid-demo"\nlabel = "Sales: not mid-demo"\n'
        'role = "sales"'
    )
    return "\n\n".join(parts)


def a_board_of(count: int, users) -> list[str]:
    """A pipeline of `count` environments, each running a release with tests, coverage and an
    artifact, the upstream ones a build ahead, one locked; returns the names in order."""
    names = environment_names(count)
    pipeline = load_pipeline_text(pipeline_toml(names), source="test")
    older = passing_build(pipeline, "main", coverage="87.9", message="Checkout: gift cards")
    for name in names:
        deploy(env(pipeline, name), older, by=users["lead"])
    newer = passing_build(pipeline, "main", tests={"passed": 412, "failed": 0, "skipped": 3})
    for name in names[: count // 2]:
        deploy(env(pipeline, name), newer, by=users["lead"])
    checklist.sign(env(pipeline, "live").checklist_items.get(), by=users["sales"])
    locks.lock(pipeline, env(pipeline, names[-2]), by=users["lead"], reason="Demo at 3pm")
    return names


# Each card of the flow: its name, its width and how many lines its artifact digest takes.
CARDS = """() => [...document.querySelectorAll('#board [data-env]')].map((card) => {
  const digest = card.querySelector('[data-field="digest"]');
  const line = parseFloat(getComputedStyle(digest).lineHeight);
  const lines = Math.round(digest.getBoundingClientRect().height / line);
  return [card.dataset.env, card.getBoundingClientRect().width, lines];
})"""
# Reading order: `b` comes after `a` on a later row, or on the same row to its right.
AFTER = """([a, b]) => {
  const [x, y] = [a, b].map((e) => document.querySelector(e).getBoundingClientRect());
  return y.top >= x.bottom - 1 || (y.top < x.bottom && y.left >= x.right - 1);
}"""


def reading_order(names: list[str]) -> list[str]:
    """The cards and, before each after the first, the hop that joins it to the one before
    (a promotion, or the builds of a branch), as a person should meet them."""
    flow = [f"#env-{names[0]}"]
    for name in names[1:]:
        flow += [f".flow > .hop:has(+ .flow-item #env-{name})", f"#env-{name}"]
    return flow


@pytest.mark.parametrize("count", [2, 3, 5, 10])
def test_a_board_of_many_environments_fits_the_screen_in_readable_cards_in_pipeline_order(
    slipway_server, users, new_page, count
):
    names = in_thread(a_board_of, count, users)
    for device, (width, height) in WIDTHS.items():
        page = new_page(width=width, height=height)
        log_in(page, slipway_server, "lead")
        expect(page.locator("[data-env]")).to_have_count(count)
        page.wait_for_load_state("load")
        screenshot(page, f"board-{count}-environments-{device}.png")

        scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
        assert scroll_width <= width, f"{count} environments: the page is {scroll_width} px wide"
        cards = page.evaluate(CARDS)
        assert [name for name, _, _ in cards] == names
        narrow = [(name, round(w)) for name, w, _ in cards if w < READABLE_CARD]
        assert not narrow, f"{count} environments at {width} px: cards too narrow: {narrow}"
        broken = [name for name, _, lines in cards if lines != 1]
        assert not broken, f"{count} environments at {width} px: digests broken: {broken}"
        flow = reading_order(names)
        out_of_order = [
            (a, b) for a, b in zip(flow, flow[1:], strict=False) if not page.evaluate(AFTER, [a, b])
        ]
        assert not out_of_order, f"{count} environments at {width} px: {out_of_order}"
        if count == 10:
            assert not axe_violations(page)
