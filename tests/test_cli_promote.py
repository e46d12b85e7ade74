"""`slipway promote`, `slipway lock` and `slipway unlock` against a live server."""

import pytest
from django.test import Client

from pipelines.models import Deployment, Lock, Promotion
from tests.live import bearer
from tests.promoting import sign_everything, uat_runs_a_new_build
from tests.test_cli import slipway


@pytest.fixture
def lead_env(slipway_server, token_for) -> dict[str, str]:
    return {"SLIPWAY_URL": slipway_server.url, "SLIPWAY_TOKEN": token_for("lead")}


def test_promote_copies_the_artifact_and_names_the_deployment(pipeline, users, lead_env):
    candidate = uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    result = slipway("promote", "uat", "live", env=lead_env)  # the only pipeline: no --pipeline
    assert result.returncode == 0, result.stderr
    promotion = Promotion.objects.get()
    assert promotion.artifact == candidate.artifact
    assert (
        f"promoting {candidate.build.short_sha} ({candidate.artifact.digest}) from uat to live "
        f"as v1: deployment #{promotion.deployment_id}"
    ) in result.stdout


def test_promote_prints_what_is_missing_when_refused(pipeline, lead_env):
    uat_runs_a_new_build(pipeline)
    result = slipway("promote", "uat", "live", "--pipeline", "webshop", env=lead_env)
    assert result.returncode == 1
    assert "The checklist for live is not complete" in result.stderr
    assert "(409 checklist_incomplete)" in result.stderr
    assert not Promotion.objects.exists()


def test_a_developer_is_told_why_not_in_the_same_words_by_the_cli_the_api_and_the_page(
    pipeline, users, slipway_server, token_for, client_for
):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    why = "developer may not promote uat to live: that takes the lead role."
    token = token_for("developer")

    cli = slipway(
        "promote", "uat", "live",
        env={"SLIPWAY_URL": slipway_server.url, "SLIPWAY_TOKEN": token},
    )  # fmt: skip
    api = Client(headers=bearer(token)).post(
        "/api/v1/pipelines/webshop/promotions",
        {"from": "uat", "to": "live"},
        content_type="application/json",
    )
    page = client_for("developer").post(
        "/pipelines/webshop/environments/live/promote", headers={"HX-Request": "true"}
    )

    assert cli.returncode == 1 and why in cli.stderr and "(403 forbidden)" in cli.stderr
    assert api.status_code == 403
    assert api.json()["error"] == {"code": "forbidden", "message": why, "details": {}}
    assert page.status_code == 403 and why in page.content.decode()
    assert not Deployment.objects.filter(environment__name="live").exists()


def test_lock_and_unlock(pipeline, lead_env):
    result = slipway("lock", "live", "--reason", "Black Friday", env=lead_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "live locked by lead: Black Friday"
    assert Lock.objects.get().reason == "Black Friday"

    refused = slipway("lock", "live", "--reason", "again", env=lead_env)
    assert refused.returncode == 1 and "already locked by lead" in refused.stderr

    result = slipway("unlock", "live", env=lead_env)
    assert result.returncode == 0 and result.stdout.strip() == "live unlocked"
    assert not Lock.objects.exists()


@pytest.mark.parametrize("command", [["promote"], ["lock"], ["unlock"]])
def test_the_new_commands_have_help(command):
    result = slipway(*command, "--help")
    assert result.returncode == 0
    assert "usage: slipway" in result.stdout


def test_promote_follow_prints_the_log_until_the_deployment_ends(pipeline, users, lead_env):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    result = slipway("promote", "uat", "live", "--follow", env=lead_env)
    assert result.returncode == 0, result.stderr
    promotion = Promotion.objects.get()
    assert f"deployment #{promotion.deployment_id} succeeded" in result.stdout
    assert promotion.deployment.log_lines.first().text in result.stdout
