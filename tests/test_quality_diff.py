"""The quality diff before promoting, on two real JUnit reports (pytest's, in tests/data):
live's build had test_discount failing and test_old_coupon; uat's fixes test_discount, breaks
test_shipping, adds test_gift_card and drops test_old_coupon."""

from pathlib import Path

import pytest
from django.test import Client

from pipelines.models import Promotion
from pipelines.quality import quality_diff
from pipelines.reports import parse_junit
from tests.factories import passing_build
from tests.live import bearer
from tests.promoting import deploy, env, finish_queued
from tests.test_cli import slipway

DATA = Path(__file__).parent / "data"
BEFORE, AFTER = DATA / "junit-before.xml", DATA / "junit-after.xml"


def upload_junit(api: Client, sha: str, path: Path) -> None:
    with path.open("rb") as report:
        response = api.post(f"/api/v1/pipelines/webshop/builds/{sha}/reports", {"junit": report})
    assert response.status_code == 200, response.content


@pytest.fixture
def two_releases(pipeline, token_for):
    """live runs `old` (coverage 87.40), uat runs `new` (88.10), `middle` came between."""
    api = Client(headers=bearer(token_for("developer")))
    old = passing_build(pipeline, "master", coverage="87.40", message="Coupons: summer")
    upload_junit(api, old.sha, BEFORE)
    deploy(env(pipeline, "live"), old)
    middle = passing_build(pipeline, "master", message="Cart: tidy", author="Grace")
    new = passing_build(pipeline, "master", coverage="88.10", message="Gift cards", author="Ada")
    upload_junit(api, new.sha, AFTER)
    finish_queued(env(pipeline, "uat"))
    return old, middle, new


@pytest.mark.django_db
def test_each_test_outcome_is_stored_by_name_compactly(two_releases):
    old, _, new = two_releases
    assert new.test_outcomes.count == 5
    assert len(bytes(new.test_outcomes.packed)) < 200
    assert parse_junit(AFTER.read_bytes()).cases == {
        "test_cart::test_total": "p",
        "test_cart::test_discount": "p",
        "test_cart::test_shipping": "f",
        "test_cart::test_gift_card": "p",
        "test_cart::test_payment": "s",
    }


@pytest.mark.django_db
def test_the_preview_names_tests_newly_failing_fixed_added_and_removed(
    pipeline, two_releases, token_for
):
    old, middle, new = two_releases
    api = Client(headers=bearer(token_for("qa")))
    response = api.get("/api/v1/pipelines/webshop/promotions/preview", {"to": "live"})
    assert response.status_code == 200
    preview = response.json()
    assert preview["from"] == "uat" and preview["to"] == "live"
    assert preview["candidate"]["sha"] == new.sha and preview["current"]["sha"] == old.sha
    assert preview["coverage_delta"] == 0.7
    assert preview["tests_delta"] == 0
    assert preview["tests"] == {
        "known": True,
        "newly_failing": {"count": 1, "names": ["test_cart::test_shipping"]},
        "fixed": {"count": 1, "names": ["test_cart::test_discount"]},
        "added": {"count": 1, "names": ["test_cart::test_gift_card"]},
        "removed": {"count": 1, "names": ["test_cart::test_old_coupon"]},
    }
    commits = preview["commits"]
    assert commits["count"] == 2
    assert [c["sha"] for c in commits["list"]] == [new.sha, middle.sha]
    assert commits["list"][1]["message"] == "Cart: tidy" and commits["list"][1]["author"] == "Grace"
    assert commits["compare_url"] == (
        f"https://github.com/acme/webshop/compare/{old.sha}...{new.sha}"
    )
    assert not Promotion.objects.exists()


@pytest.mark.django_db
def test_without_junit_reports_the_diff_says_per_test_results_are_unknown(pipeline):
    deploy(env(pipeline, "live"), passing_build(pipeline, "master"))
    passing_build(pipeline, "master")
    finish_queued(env(pipeline, "uat"))
    diff = quality_diff(env(pipeline, "live"))
    assert diff.outcomes_known is False
    assert diff.commit_count == 1 and diff.coverage_delta == 0


@pytest.mark.django_db
def test_the_preview_refuses_a_target_it_cannot_preview(pipeline, token_for):
    api = Client(headers=bearer(token_for("qa")))
    url = "/api/v1/pipelines/webshop/promotions/preview"
    for query, message in (
        ({}, "to is required"),
        ({"to": "prod"}, "webshop has no environment 'prod'"),
        ({"to": "uat"}, "uat is not promoted from anywhere"),
    ):
        response = api.get(url, query)
        assert response.status_code == 422
        assert message in response.json()["error"]["message"]
    assert Client().get(url, {"to": "live"}).status_code == 401


@pytest.mark.django_db
def test_the_promotion_panel_shows_the_quality_diff(pipeline, two_releases, client_for):
    page = client_for("qa").get("/pipelines/webshop/").content.decode()
    panel = page[page.index('data-promotion="live"') :]
    assert "What changes on live" in panel
    assert "87.4% → 88.1%" in panel and "(+0.7 pt)" in panel
    newly_failing = panel[panel.index('data-tests="newly-failing"') :]
    assert "<details open>" in newly_failing[:200]
    assert "1 newly failing" in newly_failing and "test_cart::test_shipping" in newly_failing
    assert "1 fixed" in panel and "test_cart::test_discount" in panel
    assert "test_cart::test_gift_card" in panel and "test_cart::test_old_coupon" in panel
    assert "2 commits between" in panel and "/compare/" in panel


def test_slipway_promote_dry_run_prints_the_diff_and_promotes_nothing(
    pipeline, two_releases, slipway_server, token_for
):
    old, middle, new = two_releases
    lead = {"SLIPWAY_URL": slipway_server.url, "SLIPWAY_TOKEN": token_for("lead")}
    result = slipway("promote", "uat", "live", "--dry-run", env=lead)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"would promote uat v3 ({new.sha[:7]}, {new.artifact.digest}) to live" in out
    assert "coverage: 87.4% → 88.1% (+0.7 pt)" in out
    assert "newly failing: 1\n  test_cart::test_shipping\n" in out
    assert "fixed: 1\n  test_cart::test_discount\n" in out
    assert "added: 1\n  test_cart::test_gift_card\n" in out
    assert "removed: 1\n  test_cart::test_old_coupon\n" in out
    assert f"commits: 2\n  {new.sha[:7]} Gift cards (Ada)\n  {middle.sha[:7]} Cart: tidy" in out
    assert not Promotion.objects.exists()

    wrong = slipway("promote", "dev", "live", "--dry-run", env=lead)
    assert wrong.returncode == 1 and "live is promoted from uat, not dev" in wrong.stderr


def junit(*names: str) -> bytes:
    cases = "".join(f'<testcase classname="c" name="{name}"/>' for name in names)
    return f'<testsuite name="s">{cases}</testsuite>'.encode()


def test_a_long_test_name_is_cut_and_a_name_seen_twice_keeps_its_worst_outcome():
    report = junit("x" * 2000)
    assert list(parse_junit(report).cases) == ["c::" + "x" * 497]
    twice = b'<testsuite><testcase classname="c" name="t"/><testcase classname="c" name="t">'
    twice += b"<failure/></testcase></testsuite>"
    assert parse_junit(twice).cases == {"c::t": "f"}


@pytest.mark.django_db
def test_a_report_with_too_many_cases_is_refused_and_changes_nothing(monkeypatch, pipeline):
    from pipelines import reports
    from pipelines.errors import InvalidInput

    monkeypatch.setattr(reports, "MAX_CASES", 3)
    build = passing_build(pipeline, "master")
    with pytest.raises(InvalidInput, match="junit has more than 3 test cases"):
        reports.apply_reports(build, junit=junit("a", "b", "c", "d"))
    build.refresh_from_db()
    assert build.tests_passed == 10 and not hasattr(build, "test_outcomes")
