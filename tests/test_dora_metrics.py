"""DORA metrics on a hand-built history of live whose answers are worked out by hand."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from pipelines.metrics import dora_metrics
from pipelines.models import Build, Deployment, Release, ReleaseCause
from tests.factories import fake_sha
from tests.live import bearer

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # a Friday
H = timedelta(hours=1)


def at(day: int, hour: int, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


class History:
    """Deployments of one environment, each ending when told."""

    def __init__(self, env):
        self.env, self.version = env, 0

    def build(self, built: datetime) -> Build:
        build = Build.objects.create(pipeline=self.env.pipeline, sha=fake_sha(), branch="master")
        Build.objects.filter(pk=build.pk).update(created_at=built)
        build.refresh_from_db()
        return build

    def deploy(self, build: Build, ended: datetime, status="succeeded", cause="auto_deploy"):
        self.version += 1
        release = Release.objects.create(
            environment=self.env,
            version=self.version,
            build=build,
            cause=cause,
            deployed_at=ended if status == "succeeded" else None,
        )
        return Deployment.objects.create(
            environment=self.env,
            release=release,
            status=status,
            started_at=ended - timedelta(minutes=5),
            finished_at=ended,
        )


@pytest.fixture
def live(pipeline):
    """Known answers for the 30 days before NOW (see each line)."""
    env = pipeline.environments.get(name="live")
    h = History(env)
    h.deploy(h.build(at(1, 9, month=2)), at(10, 10, month=2))  # before the window: ignored
    b1 = h.build(at(2, 9))
    h.deploy(b1, at(2, 10))  # lead 1 h
    b2 = h.build(at(3, 8))
    h.deploy(b2, at(3, 12), status="failed")  # failure; restored by the next: 2 h
    h.deploy(b2, at(3, 14))  # lead 6 h
    b3 = h.build(at(10, 9))
    h.deploy(b3, at(10, 12))  # lead 3 h, then rolled back: a failure, restored in 1 h
    h.deploy(b2, at(10, 13), cause=ReleaseCause.ROLLBACK)  # no change, no lead time
    b4 = h.build(at(16, 10))
    h.deploy(b4, at(17, 10))  # lead 24 h
    h.deploy(h.build(at(18, 10)), at(18, 11), status="interrupted")  # failure, still open
    h.deploy(h.build(at(19, 9)), at(19, 10), status="cancelled")  # changed nothing: ignored
    return env


def test_deployment_frequency_counts_the_deployments_that_succeeded(live):
    metrics = dora_metrics(live, 30, now=NOW)
    assert metrics.total.deployments == 5
    assert metrics.deployments_per_day == pytest.approx(5 / 30)
    assert metrics.deployments_per_week == pytest.approx(35 / 30)


def test_lead_time_runs_from_the_build_to_its_deployment_here(live):
    metrics = dora_metrics(live, 30, now=NOW)
    assert sorted(metrics.total.lead_times) == [1 * H, 3 * H, 6 * H, 24 * H]
    assert metrics.total.lead_time_median == 4.5 * H
    assert metrics.total.lead_time_p90 == 24 * H


def test_change_failure_rate_counts_failed_interrupted_and_rolled_back_deployments(live):
    metrics = dora_metrics(live, 30, now=NOW)
    assert (metrics.total.failures, metrics.total.changes) == (3, 6)
    assert metrics.total.change_failure_rate == 0.5


def test_time_to_restore_runs_from_a_failure_to_the_next_good_deployment(live):
    metrics = dora_metrics(live, 30, now=NOW)
    assert metrics.total.restore_times == [2 * H, 1 * H]
    assert metrics.total.time_to_restore_median == 1.5 * H
    assert metrics.total.unrestored == 1


def test_each_metric_has_its_weekly_series(live):
    weeks = {week.start: week.figures for week in dora_metrics(live, 30, now=NOW).weeks}
    assert list(weeks) == [date(2026, 2, 16), date(2026, 2, 23), date(2026, 3, 2),
                           date(2026, 3, 9), date(2026, 3, 16)]  # fmt: skip
    quiet = weeks[date(2026, 2, 23)]
    assert quiet.deployments == 0 and quiet.change_failure_rate is None
    first = weeks[date(2026, 3, 2)]
    assert (first.deployments, first.lead_time_median) == (2, 3.5 * H)
    assert first.change_failure_rate == pytest.approx(1 / 3)
    assert first.restore_times == [2 * H]
    second = weeks[date(2026, 3, 9)]
    assert (second.deployments, second.lead_times, second.change_failure_rate) == (2, [3 * H], 1)
    last = weeks[date(2026, 3, 16)]
    assert (last.deployments, last.change_failure_rate, last.unrestored) == (1, 0.5, 1)


def test_a_shorter_window_counts_only_its_own_days(live):
    metrics = dora_metrics(live, 7, now=NOW)
    assert metrics.total.deployments == 1
    assert (metrics.total.failures, metrics.total.changes) == (1, 2)
    assert metrics.total.lead_times == [24 * H]
    assert [week.start for week in metrics.weeks] == [date(2026, 3, 9), date(2026, 3, 16)]


def test_each_environment_has_its_own_metrics(live, pipeline):
    uat = pipeline.environments.get(name="uat")
    h = History(uat)
    h.deploy(h.build(at(19, 8)), at(19, 9))
    assert dora_metrics(uat, 30, now=NOW).total.deployments == 1
    assert dora_metrics(uat, 30, now=NOW).total.lead_time_median == 1 * H
    assert dora_metrics(live, 30, now=NOW).total.deployments == 5


def test_an_environment_without_deployments_has_no_figures(pipeline):
    metrics = dora_metrics(pipeline.environments.get(name="dev"), 90, now=NOW)
    assert metrics.total.deployments == 0
    assert metrics.total.lead_time_median is None and metrics.total.lead_time_p90 is None
    assert metrics.total.change_failure_rate is None
    assert metrics.total.time_to_restore_median is None
    assert len(metrics.weeks) == 14


@pytest.fixture
def at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def test_the_api_gives_the_figures_and_the_weeks(live, at_now, token_for):
    api = Client(headers=bearer(token_for("qa")))
    response = api.get("/api/v1/pipelines/webshop/metrics", {"environment": "live", "days": 30})
    assert response.status_code == 200
    data = response.json()
    assert (data["environment"], data["days"], data["deployments"]) == ("live", 30, 5)
    assert data["from"] == "2026-02-18T12:00:00+00:00" and data["to"] == "2026-03-20T12:00:00+00:00"
    assert data["lead_time"] == {"median_seconds": 16200.0, "p90_seconds": 86400.0, "changes": 4}
    assert data["change_failure_rate"] == {"rate": 0.5, "failures": 3, "deployments": 6}
    assert data["time_to_restore"] == {"median_seconds": 5400.0, "restored": 2, "not_restored": 1}
    assert [week["week"] for week in data["weekly"]][-2:] == ["2026-03-09", "2026-03-16"]
    assert data["weekly"][-2]["deployments"] == 2
    # The pipeline's last environment by default, 30 days by default.
    assert api.get("/api/v1/pipelines/webshop/metrics").json()["deployments"] == 5


def test_the_api_refuses_an_unknown_environment_or_a_bad_number_of_days(pipeline, token_for):
    api = Client(headers=bearer(token_for("qa")))
    url = "/api/v1/pipelines/webshop/metrics"
    for query, field in (
        ({"environment": "prod"}, "environment"),
        ({"days": "0"}, "days"),
        ({"days": "366"}, "days"),
        ({"days": "²"}, "days"),
        ({"days": "-3"}, "days"),
    ):
        response = api.get(url, query)
        assert response.status_code == 422, query
        assert response.json()["error"]["details"]["field"] == field
    assert Client().get(url).status_code == 401


def test_the_page_shows_the_figures_the_charts_and_the_definitions(live, at_now, client_for):
    response = client_for("sales").get("/pipelines/webshop/metrics/", {"days": 30})
    assert response.status_code == 200
    page = response.content.decode()
    tile = page[page.index('data-metric="change-failure-rate"') :]
    assert "50%" in tile[:300] and "3 of 6 deployments failed or were rolled back" in tile
    lead = page[page.index('data-metric="lead-time"') :]
    assert "4 h 30 min" in lead[:300] and "90th percentile 1 d" in lead[:500]
    for chart in ("frequency", "lead-time", "failure-rate", "restore"):
        assert f'data-chart="{chart}"' in page
    # The values are written on the bars, not only drawn: readable without colour.
    assert 'data-bar="9 Mar" data-value="100%"' in page
    assert 'data-bar="2 Mar" data-value="3.5 h"' in page
    assert 'data-bar="23 Feb" data-value="—"' in page
    assert "What the figures mean" in page and "nearest rank" in page
    assert 'href="?environment=live&amp;days=90"' in page
    assert 'href="?environment=uat&amp;days=30"' in page


def test_the_page_shows_the_environment_and_period_asked_for(live, at_now, client_for):
    page = client_for("qa").get("/pipelines/webshop/metrics/?environment=uat&days=7")
    assert "Delivery metrics of uat" in page.content.decode()
    assert client_for("qa").get("/pipelines/webshop/metrics/?days=12").status_code == 404
    assert client_for("qa").get("/pipelines/webshop/metrics/?environment=x").status_code == 404
    assert client_for("nobody").get("/pipelines/webshop/metrics/").status_code == 403
