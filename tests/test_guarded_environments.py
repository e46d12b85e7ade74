"""Only promotion reaches an environment with a checklist: no branch auto-deploys there, and a
lead's manual deploy or rollback is break-glass — it needs a reason, and the board, the audit
log and the notifications say "checklist bypassed by … because …"."""

import pytest
from django.test import Client, TestCase

from pipelines.config import load_pipeline_text
from pipelines.deploys import deploy_build, rollback
from pipelines.errors import InvalidInput
from pipelines.models import AuditEvent, Deployment, Release
from pipelines.runner.run import run_deployment
from tests.deploying import artifact_build
from tests.factories import passing_build
from tests.live import bearer
from tests.test_cli import slipway
from tests.test_notifications import receiver, with_notifications  # noqa: F401

pytestmark = pytest.mark.django_db

LIVE_PAGE = "/pipelines/webshop/environments/live/"
LIVE_API = "/api/v1/pipelines/webshop/environments/live/deployments"
REASON = "hotfix for the checkout outage"


def live_of(pipeline):
    return pipeline.environments.get(name="live")


def test_a_guarded_environment_given_a_branch_before_the_rule_gets_no_auto_deploy(
    pipeline, token_for
):
    live = live_of(pipeline)
    live.branch = "release/*"  # a database loaded before the loader refused this
    live.save(update_fields=["branch"])
    build = passing_build(pipeline, "release/x")  # CI's passing build with its artifact

    assert not live.releases.exists()
    refused = AuditEvent.objects.get(action="auto_deploy_refused")
    assert "live has a checklist: only promotion deploys there" in refused.message
    # The developer's manual deploy there is refused too.
    developer = Client(headers=bearer(token_for("developer")))
    response = developer.post(LIVE_API, {"sha": build.sha}, content_type="application/json")
    assert response.status_code == 403


def test_a_leads_deploy_to_a_guarded_environment_without_a_reason_is_refused(pipeline, token_for):
    build = artifact_build(pipeline, b"one")
    lead = Client(headers=bearer(token_for("lead")))

    for body in ({"sha": build.sha}, {"sha": build.sha, "reason": "   "}):
        response = lead.post(LIVE_API, body, content_type="application/json")
        assert response.status_code == 422
        assert response.json()["error"]["details"]["field"] == "reason"
        assert "goes around its checklist: give a reason" in response.json()["error"]["message"]
    assert not Deployment.objects.exists()


def test_a_developer_with_a_reason_still_may_not_deploy_to_a_guarded_environment(
    pipeline, token_for
):
    build = artifact_build(pipeline, b"one")
    developer = Client(headers=bearer(token_for("developer")))

    response = developer.post(
        LIVE_API, {"sha": build.sha, "reason": REASON}, content_type="application/json"
    )

    assert response.status_code == 403
    assert not Deployment.objects.exists()


def test_a_break_glass_deploy_from_the_page_says_so_on_the_card_and_in_the_audit_log(
    pipeline, client_for
):
    build = artifact_build(pipeline, b"one")
    lead = client_for("lead")
    page = lead.get(LIVE_PAGE).content.decode()
    assert 'name="reason" required' in page

    response = lead.post(LIVE_PAGE + "deploy", {"sha": build.sha, "reason": REASON})

    assert response.status_code == 302
    deployment = Deployment.objects.get()
    run_deployment(deployment.pk)
    said = f"checklist bypassed by lead because {REASON}"
    assert said in deployment.release.description
    assert said in lead.get("/pipelines/webshop/").content.decode()  # the live card
    event = AuditEvent.objects.get(action="checklist_bypassed")
    assert said in event.message and event.data["reason"] == REASON
    assert event.actor.username == "lead" and event.data["deployment"] == deployment.pk


def test_a_break_glass_rollback_needs_a_reason_too(pipeline, users):
    live = live_of(pipeline)
    lead = users["lead"]
    for data in (b"one", b"two"):
        deployment = deploy_build(live, artifact_build(pipeline, data), by=lead, reason=REASON)
        run_deployment(deployment.pk)

    with pytest.raises(InvalidInput, match="To roll back live goes around its checklist"):
        rollback(live, "v1", by=lead)
    deployment = rollback(live, "v1", by=lead, reason="v2 broke payments")

    assert deployment.release.description == (
        "rollback to v1: checklist bypassed by lead because v2 broke payments"
    )
    assert Release.objects.filter(environment=live).count() == 3


def test_a_rollback_without_a_checklist_needs_no_reason(pipeline, users):
    dev = pipeline.environments.get(name="dev")
    for data in (b"one", b"two"):
        run_deployment(deploy_build(dev, artifact_build(pipeline, data), by=users["lead"]).pk)

    assert rollback(dev, "v1", by=users["lead"]).release.description == "rollback to v1"
    assert not AuditEvent.objects.filter(action="checklist_bypassed").exists()


def test_a_break_glass_deploy_is_announced_with_its_reason(pipeline, users, receiver, settings):  # noqa: F811
    settings.REDIS_URL = ""  # delivered in this process, not by a worker
    settings.SLIPWAY_NOTIFICATION_RETRY_DELAYS = (0,)
    load_pipeline_text(with_notifications(receiver.url))
    pipeline.refresh_from_db()
    build = artifact_build(pipeline, b"one")

    with TestCase.captureOnCommitCallbacks(execute=True):  # news leaves after commit
        deploy_build(live_of(pipeline), build, by=users["lead"], reason=REASON)

    texts = [body["text"] for body in receiver.bodies("/slack")]
    assert any(f"checklist of live bypassed by lead because {REASON}" in t for t in texts), texts


def test_the_cli_sends_the_reason(pipeline, slipway_server, token_for):
    build = artifact_build(pipeline, b"cli")
    env = {"SLIPWAY_URL": slipway_server.url, "SLIPWAY_TOKEN": token_for("lead")}

    refused = slipway("deploy", "live", "--sha", build.sha, env=env)
    result = slipway("deploy", "live", "--sha", build.sha, "--reason", REASON, env=env)

    assert refused.returncode == 1 and "give a reason" in refused.stderr
    assert result.returncode == 0, result.stderr
    assert f"checklist bypassed by lead because {REASON}" in result.stdout
