"""Each card's sparklines: coverage and test count of the environment's recent releases, and
the delta against the environment it promotes to."""

import re

import pytest

from pipelines.trends import POINTS
from tests.factories import passing_build
from tests.promoting import deploy, env, finish_queued

pytestmark = pytest.mark.django_db


def card(client, name: str) -> str:
    page = client.get("/pipelines/webshop/").content.decode()
    start = page.index(f'data-env="{name}"')
    return page[start : page.index("</article>", start)]


def uat_builds(pipeline, figures):
    """A master build per (coverage, passed tests), each auto-deployed to uat in turn."""
    builds = []
    for coverage, passed in figures:
        builds.append(
            passing_build(
                pipeline,
                "master",
                coverage=coverage,
                tests={"passed": passed, "failed": 0, "skipped": 0},
            )
        )
        finish_queued(env(pipeline, "uat"))
    return builds


def test_the_card_draws_coverage_and_tests_of_its_recent_releases(pipeline, client_for):
    uat_builds(pipeline, [("80.00", 100), ("82.50", 104), ("81.00", 110)])
    uat = card(client_for("qa"), "uat")
    coverage = uat[uat.index('data-trend="coverage"') :]
    assert "oldest to newest: 80.0%, 82.5%, 81.0%" in coverage
    assert "(low 80.0%, high 82.5%)" in coverage
    assert re.search(r'<polyline points="[\d.]+,[\d.]+ [\d.]+,[\d.]+ [\d.]+,[\d.]+"', coverage)
    tests = uat[uat.index('data-trend="tests"') :]
    assert "oldest to newest: 100, 104, 110" in tests
    assert "Last 3 releases (v1–v3)" in uat


def test_the_card_compares_with_the_environment_it_promotes_to(pipeline, client_for):
    older, newer = uat_builds(pipeline, [("80.00", 100), ("81.25", 106)])
    deploy(env(pipeline, "live"), older)
    uat = card(client_for("qa"), "uat")
    assert '<span data-field="coverage-vs">(+1.25 pt vs live)</span>' in uat
    assert '<span data-field="tests-vs">(+6 vs live)</span>' in uat
    live = card(client_for("qa"), "live")
    assert "vs " not in live[live.index('data-field="trends"') :]  # live promotes nowhere


def test_a_drop_is_written_with_a_minus_sign(pipeline, client_for):
    better, worse = uat_builds(pipeline, [("90.00", 120), ("88.50", 117)])
    deploy(env(pipeline, "live"), better)
    uat = card(client_for("qa"), "uat")
    assert "(−1.5 pt vs live)" in uat and "(−3 vs live)" in uat


def test_only_the_last_releases_are_drawn(pipeline, client_for):
    uat_builds(pipeline, [(f"{70 + n}.00", 100 + n) for n in range(POINTS + 3)])
    uat = card(client_for("qa"), "uat")
    assert f"Last {POINTS} releases (v4–v{POINTS + 3})" in uat
    assert "oldest to newest: 73.0%," in uat


def test_an_environment_without_releases_draws_nothing(pipeline, client_for):
    assert 'data-field="trends"' not in card(client_for("qa"), "dev")
