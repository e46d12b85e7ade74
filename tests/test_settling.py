"""What the reaper does with a deployment whose runner died, from the intent the runner
recorded before each irreversible step — and what the card and the page then say. (The
local driver's cases, with real kills, are in tests/test_kill_at_each_step.py.)"""

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from pipelines.deploys import request_deployment
from pipelines.models import Deployment, DeploymentStatus, StepStatus
from pipelines.runner.reaper import reap_stale_deployments
from pipelines.runner.run import create_steps
from tests.deploying import artifact_build
from tests.live import bearer
from tests.test_heroku_driver import heroku_env, slug_tarball

pytest_plugins = ["tests.test_heroku_driver"]  # its `heroku` fixture

LONG_AGO = timedelta(minutes=5)


def died_running(deployment: Deployment, steps: list[str], done: int, **intent) -> None:
    """As a runner leaves a deployment when it is killed during step number `done + 1`."""
    made = create_steps(deployment, steps)
    for step in made[:done]:
        step.status = StepStatus.SUCCEEDED
        step.save()
    made[done].status = StepStatus.RUNNING
    made[done].save()
    then = timezone.now() - LONG_AGO
    Deployment.objects.filter(pk=deployment.pk).update(
        status=DeploymentStatus.RUNNING,
        started_at=then,
        heartbeat_at=then,
        runner="a-host-that-died:4242:cafe",
        intent=intent,
    )


HEROKU_STEPS = ["maintenance on", "release", "release command", "maintenance off"]


def test_a_heroku_release_made_before_the_kill_is_waited_for_and_confirmed(
    pipeline, heroku, held_deployments
):
    uat = heroku_env(pipeline, "uat", "webshop-uat")
    deployment = request_deployment(uat, artifact_build(pipeline, slug_tarball()), cause="manual")
    description = f"Slipway v1: {deployment.release.build.short_sha} manual deploy"
    heroku.releases.append(
        {"id": "r-1", "version": 7, "status": "pending", "description": description}
    )
    died_running(deployment, HEROKU_STEPS, 2, maintenance=True, release=description)

    assert reap_stale_deployments() == []  # settled, not ended as interrupted

    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.SUCCEEDED
    assert deployment.settled == (
        "Interrupted after the Heroku release; v1 confirmed by Heroku; maintenance turned off."
    )
    assert [s.status for s in deployment.steps.all()] == [StepStatus.SUCCEEDED] * 4
    assert heroku.requests[-1] == ("PATCH", "/apps/webshop-uat", {"maintenance": False})
    uat.refresh_from_db()
    assert uat.current_release == deployment.release


def test_a_heroku_deployment_killed_before_its_release_leaves_maintenance_off(
    pipeline, heroku, held_deployments
):
    uat = heroku_env(pipeline, "uat", "webshop-uat")
    deployment = request_deployment(uat, artifact_build(pipeline, slug_tarball()), cause="manual")
    died_running(deployment, HEROKU_STEPS, 1, maintenance=True)  # killed uploading the slug

    assert reap_stale_deployments() == [deployment.pk]

    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.INTERRUPTED
    assert deployment.settled == (
        "Interrupted before the Heroku release; nothing was deployed here before; "
        "maintenance turned off."
    )
    assert heroku.calls() == [("PATCH", "/apps/webshop-uat")]
    assert heroku.requests[-1][2] == {"maintenance": False}
    assert [s.status for s in deployment.steps.all()] == [
        StepStatus.SUCCEEDED,
        StepStatus.FAILED,
        StepStatus.SKIPPED,
        StepStatus.SUCCEEDED,  # maintenance off: the reaper turned it off
    ]


def test_the_card_the_page_and_the_api_say_what_the_reaper_did(
    pipeline, client_for, held_deployments, token_for
):
    dev = pipeline.environments.get(name="dev")
    deployment = request_deployment(dev, artifact_build(pipeline, b"a"), cause="manual")
    died_running(deployment, ["release"], 0)
    reap_stale_deployments()
    client = client_for("developer")

    board = client.get("/pipelines/webshop/").content.decode()
    page = client.get(f"/deployments/{deployment.pk}/").content.decode()

    assert "Interrupted; dev keeps serving nothing." in board
    assert f'href="/deployments/{deployment.pk}/"' in board
    assert "dev keeps serving nothing." in page
    api = Client(headers=bearer(token_for("developer")))
    body = api.get(f"/api/v1/deployments/{deployment.pk}").json()
    assert body["settled"] == "Interrupted; dev keeps serving nothing."
