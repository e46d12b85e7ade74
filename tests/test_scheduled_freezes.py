"""Scheduled freezes ([[pipeline.freezes]]), enforced when a deployment would start.

Time is moved with time-machine: the weekend freeze of these tests holds from Friday 16:00
to Monday 08:00 in Berlin, and Black Friday freezes live from Thursday 26 Nov 2026 00:00
to Saturday 28 Nov 08:00 in New York.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client, TestCase

from pipelines import deploys, thaw
from pipelines.config import load_pipeline_text
from pipelines.errors import EnvironmentFrozen
from pipelines.models import AuditEvent, Deployment
from pipelines.promotion import promote
from pipelines.runner.run import run_deployment
from tests import test_notifications as notifications_tests
from tests.conftest import EXAMPLE_TOML
from tests.factories import passing_build
from tests.live import bearer
from tests.promoting import env, finish_queued, sign_everything, uat_runs_a_new_build

# A real webhook receiver, and news sent in this process (tests/test_notifications.py).
receiver = notifications_tests.receiver
quick_retries = notifications_tests.quick_retries

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
FREEZES = """
[[pipeline.freezes]]
reason = "Weekend"
cron = "0 16 * * FRI"
until = "0 8 * * MON"
timezone = "Europe/Berlin"

[[pipeline.freezes]]
reason = "Black Friday"
start = "2026-11-26T00:00"
end = "2026-11-28T08:00"
timezone = "America/New_York"
environments = ["live"]
"""
REPO_LINE = 'repository_url = "https://github.com/acme/webshop"\n'
PROMOTIONS = "/api/v1/pipelines/webshop/promotions"


def with_freezes(freezes: str = FREEZES) -> str:
    return EXAMPLE_TOML.replace(REPO_LINE, REPO_LINE + freezes)


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


@pytest.fixture
def frozen_pipeline(pipeline):
    return load_pipeline_text(with_freezes(), source="pipeline.toml")


@pytest.fixture
def clock():
    """A stopped clock on Wednesday 18 Nov 2026, 12:00 in Berlin; `clock.move_to(…)`."""
    with time_machine.travel(berlin(2026, 11, 18, 12, 0), tick=False) as traveller:
        yield traveller


def post(client: Client, path: str, body: dict):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(path, body, content_type="application/json")


def api(token_for, role: str) -> Client:
    return Client(headers=bearer(token_for(role)))


def test_an_auto_deploy_waits_for_the_window_to_end_then_deploys_itself(
    clock, frozen_pipeline, client_for
):
    served = uat_runs_a_new_build(frozen_pipeline)
    clock.move_to(berlin(2026, 11, 20, 17, 0))  # Friday 17:00: the weekend freeze holds
    build = passing_build(frozen_pipeline, "master")
    uat = env(frozen_pipeline, "uat")
    assert uat.waiting_build == build
    assert not Deployment.objects.filter(environment=uat, status__in=["queued", "running"]).exists()
    waits = AuditEvent.objects.get(action="auto_deploy_waiting", data__sha=build.sha)
    assert "waits for the freeze (Weekend) to end" in waits.message
    html = client_for("developer").get("/pipelines/webshop/").content.decode()
    assert "deploys when the freeze ends (Mon 23 Nov 08:00 Europe/Berlin" in html
    assert "❄ Frozen until Mon 23 Nov 08:00 Europe/Berlin" in html

    clock.move_to(berlin(2026, 11, 23, 7, 59))  # not yet
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert thaw.thaw() == []
    clock.move_to(berlin(2026, 11, 23, 8, 0, 30))  # Monday 08:00: the next tick deploys it
    with TestCase.captureOnCommitCallbacks(execute=True):
        started = thaw.thaw()
    assert [d.release.build for d in started] == [build]
    finish_queued(uat)
    uat.refresh_from_db()
    assert uat.current_release.build == build != served.build
    assert uat.waiting_build is None


def test_a_promotion_inside_the_window_is_refused_with_423_and_the_window(
    clock, frozen_pipeline, users, token_for
):
    uat_runs_a_new_build(frozen_pipeline)
    sign_everything(frozen_pipeline, users)
    clock.move_to(datetime(2026, 11, 26, 9, 0, tzinfo=NEW_YORK))  # Thanksgiving: Black Friday
    response = post(api(token_for, "lead"), PROMOTIONS, {"from": "uat", "to": "live"})
    assert response.status_code == 423
    error = response.json()["error"]
    assert error["code"] == "frozen"
    assert error["details"]["window"] == {
        "start": "2026-11-26T00:00:00-05:00",
        "end": "2026-11-28T08:00:00-05:00",
        "reason": "Black Friday",
        "timezone": "America/New_York",
        "environments": ["live"],
    }
    assert (
        "live is frozen until Sat 28 Nov 08:00 America/New_York (Black Friday" in error["message"]
    )
    assert not Deployment.objects.filter(environment__name="live").exists()


def test_a_manual_deploy_inside_the_window_is_refused(clock, frozen_pipeline, token_for):
    build = passing_build(frozen_pipeline, "feature")  # no environment's branch: not deployed
    clock.move_to(berlin(2026, 11, 21, 10, 0))  # Saturday: every environment is frozen
    response = post(
        api(token_for, "developer"),
        "/api/v1/pipelines/webshop/environments/dev/deployments",
        {"sha": build.sha},
    )
    assert response.status_code == 423
    assert response.json()["error"]["details"]["window"]["reason"] == "Weekend"
    with pytest.raises(EnvironmentFrozen, match="dev is frozen until Mon 23 Nov 08:00"):
        deploys.deploy_build(env(frozen_pipeline, "dev"), build, by=_user("developer"))
    assert not Deployment.objects.filter(environment__name="dev").exists()


def test_the_runner_refuses_a_deployment_queued_before_the_window_began(
    clock, frozen_pipeline, held_deployments, users
):
    clock.move_to(berlin(2026, 11, 20, 15, 59))  # Friday, a minute before the freeze
    build = passing_build(frozen_pipeline, "master")  # auto-deploy: queued, held
    manual = passing_build(frozen_pipeline, "feature")
    with TestCase.captureOnCommitCallbacks(execute=True):
        by_hand = deploys.deploy_build(env(frozen_pipeline, "dev"), manual, by=users["developer"])
    queued = Deployment.objects.get(release__build=build)
    clock.move_to(berlin(2026, 11, 20, 16, 0, 5))  # the worker takes them now
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert run_deployment(queued.pk) is None
        assert run_deployment(by_hand.pk) is None
    for refused in (queued, by_hand):
        refused.refresh_from_db()
        assert refused.status == "cancelled" and refused.refused_by_freeze
        assert "began after this deployment was queued" in refused.error
        assert refused.log_lines.filter(text__contains="the freeze (Weekend)").exists()
    uat = env(frozen_pipeline, "uat")
    assert uat.waiting_build == build, "the auto-deploy waits for the end of the window"
    assert env(frozen_pipeline, "dev").waiting_build is None, "a person's deploy just ends"
    assert AuditEvent.objects.filter(action="deployment_refused_frozen").count() == 2

    clock.move_to(berlin(2026, 11, 23, 8, 0, 10))
    with TestCase.captureOnCommitCallbacks(execute=True):
        (started,) = thaw.thaw()
    with TestCase.captureOnCommitCallbacks(execute=True):
        run_deployment(started.pk)
    uat.refresh_from_db()
    assert uat.current_release.build == build


def test_a_lead_breaks_the_glass_with_a_reason_audited_and_announced(
    clock, frozen_pipeline, users, token_for, receiver
):
    load_pipeline_text(
        with_freezes(
            FREEZES
            + f'\n[[pipeline.notifications]]\nkind = "webhook"\nurl = "{receiver.url}/hook"\n'
        ),
        source="pipeline.toml",
    )
    clock.move_to(datetime(2026, 11, 27, 8, 0, tzinfo=NEW_YORK))  # Black Friday; uat is not frozen
    candidate = uat_runs_a_new_build(frozen_pipeline)
    sign_everything(frozen_pipeline, users)
    body = {"from": "uat", "to": "live", "reason": "payment provider outage fix"}
    response = post(api(token_for, "lead"), PROMOTIONS, body)
    assert response.status_code == 202, response.json()
    deployment = Deployment.objects.get(pk=response.json()["id"])
    assert deployment.freeze_bypass_reason == "payment provider outage fix"
    event = AuditEvent.objects.get(action="freeze_bypassed")
    assert event.actor == users["lead"] and event.data["reason"] == "payment provider outage fix"
    assert event.data["window"]["reason"] == "Black Friday"
    assert "broken by lead because payment provider outage fix" in event.message
    receiver.wait_for(2)  # deployment.started and freeze.bypassed
    news = {b["event"]: b for b in receiver.bodies("/hook")}
    assert news["freeze.bypassed"]["reason"] == "payment provider outage fix"
    assert news["freeze.bypassed"]["window"]["reason"] == "Black Friday"
    # The runner starts it although the window holds: the glass was broken.
    finish_queued(env(frozen_pipeline, "live"))
    assert env(frozen_pipeline, "live").current_release.artifact == candidate.artifact


def test_breaking_the_glass_is_refused_without_a_reason_or_for_a_non_lead(
    clock, frozen_pipeline, users, token_for
):
    build = passing_build(frozen_pipeline, "feature")
    uat_runs_a_new_build(frozen_pipeline)
    sign_everything(frozen_pipeline, users)
    clock.move_to(berlin(2026, 11, 21, 10, 0))
    dev = env(frozen_pipeline, "dev")
    with pytest.raises(EnvironmentFrozen, match="only a lead may break the glass"):
        deploys.deploy_build(dev, build, by=users["developer"], reason="I really need it")
    with pytest.raises(EnvironmentFrozen, match="a lead may deploy anyway with a reason"):
        deploys.deploy_build(dev, build, by=users["lead"], reason="   ")
    with pytest.raises(EnvironmentFrozen):
        promote(
            frozen_pipeline,
            env(frozen_pipeline, "uat"),
            env(frozen_pipeline, "live"),
            by=users["lead"],
        )
    response = post(
        api(token_for, "developer"),
        "/api/v1/pipelines/webshop/environments/dev/deployments",
        {"sha": build.sha, "reason": "I really need it"},
    )
    assert response.status_code == 423
    assert not AuditEvent.objects.filter(action="freeze_bypassed").exists()
    with TestCase.captureOnCommitCallbacks(execute=True):
        deploys.deploy_build(dev, build, by=users["lead"], reason="hotfix for a crash")
    assert AuditEvent.objects.filter(action="freeze_bypassed", actor=users["lead"]).exists()


def test_the_board_announces_the_freeze_two_hours_ahead(
    clock, frozen_pipeline, client_for, token_for
):
    clock.move_to(berlin(2026, 11, 20, 14, 0))
    html = client_for("sales").get("/pipelines/webshop/").content.decode()
    assert "❄ Freeze starts in 2 h</strong>" in html
    assert "Fri 20 Nov 16:00 Europe/Berlin – Mon 23 Nov 08:00 Europe/Berlin" in html
    status = api(token_for, "developer").get("/api/v1/pipelines/webshop").json()
    assert status["freeze"]["active"] is None
    assert status["freeze"]["next"]["start"] == "2026-11-20T16:00:00+01:00"
    clock.move_to(berlin(2026, 11, 18, 12, 0))  # two days ahead: not yet announced
    html = client_for("sales").get("/pipelines/webshop/").content.decode()
    assert "Freeze starts" not in html
    clock.move_to(berlin(2026, 11, 20, 16, 30))
    status = api(token_for, "developer").get("/api/v1/pipelines/webshop").json()
    assert status["freeze"]["active"]["end"] == "2026-11-23T08:00:00+01:00"
    assert all(e["frozen"]["reason"] == "Weekend" for e in status["environments"])


def _user(name: str):
    from django.contrib.auth.models import User

    return User.objects.get(username=name)
