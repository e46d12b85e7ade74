"""A build that passes while its environment is deploying waits, and deploys after.

CI pushes faster than deployments finish: the newest build must not be lost because uat
was busy, nor should every build in between be deployed one after another.
"""

from datetime import timedelta

from django.test import TestCase
from django.utils import timezone

from pipelines.builds import record_build
from pipelines.deploys import cancel_deployment
from pipelines.models import AuditEvent, Build, Deployment, DeploymentStatus
from pipelines.runner.reaper import reap_stale_deployments
from pipelines.runner.run import run_deployment
from tests.factories import fake_sha, passing_build


def run(deployment: Deployment) -> Deployment:
    """Run a held deployment; what it starts when it ends is queued (and held) in turn."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return run_deployment(deployment.pk)


def test_the_newest_build_that_passed_meanwhile_deploys_when_the_running_one_ends(
    pipeline, held_deployments
):
    uat = pipeline.environments.get(name="uat")
    first = passing_build(pipeline, "master", message="First")
    running = Deployment.objects.get(release__build=first)

    passing_build(pipeline, "master", message="Second")
    third = passing_build(pipeline, "master", message="Third")
    uat.refresh_from_db()
    assert uat.waiting_build == third
    assert Deployment.objects.count() == 1, "nothing else started while #1 runs"
    waits = AuditEvent.objects.filter(action="auto_deploy_waiting").order_by("pk")
    assert [e.message for e in waits] == [
        f"auto-deploy of {fake(pipeline, 'Second')} to uat waits for deployment #{running.pk}",
        f"auto-deploy of {third.short_sha} to uat waits for deployment #{running.pk}"
        f" (instead of {fake(pipeline, 'Second')})",
    ]

    assert run(running).status == DeploymentStatus.SUCCEEDED
    following = Deployment.objects.exclude(pk=running.pk).get()
    assert following.release.build == third
    assert following.release.version == 2
    assert following.release.description == "auto-deploy of master"
    uat.refresh_from_db()
    assert uat.waiting_build is None

    run(following)
    uat.refresh_from_db()
    assert uat.current_release.build == third


def test_a_failed_or_cancelled_deployment_also_lets_the_waiting_build_go(
    pipeline, held_deployments, users
):
    first = passing_build(pipeline, "master", message="First")
    queued = Deployment.objects.get(release__build=first)
    second = passing_build(pipeline, "master", message="Second")

    with TestCase.captureOnCommitCallbacks(execute=True):
        cancel_deployment(queued, by=users["lead"])

    following = Deployment.objects.exclude(pk=queued.pk).get()
    assert following.release.build == second
    assert following.status == DeploymentStatus.QUEUED


def test_an_interrupted_deployment_lets_the_waiting_build_go(pipeline, held_deployments, settings):
    settings.SLIPWAY_STALE_AFTER_SECONDS = 60
    first = passing_build(pipeline, "master", message="First")
    stuck = Deployment.objects.get(release__build=first)
    Deployment.objects.filter(pk=stuck.pk).update(
        status=DeploymentStatus.RUNNING, heartbeat_at=timezone.now()
    )
    second = passing_build(pipeline, "master", message="Second")
    Deployment.objects.filter(pk=stuck.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=5)  # its worker died
    )

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert reap_stale_deployments() == [stuck.pk]

    following = Deployment.objects.exclude(pk=stuck.pk).get()
    assert following.release.build == second


def test_an_old_build_reposted_by_ci_does_not_wait_behind_a_newer_one(pipeline, held_deployments):
    uat = pipeline.environments.get(name="uat")
    older = passing_build(pipeline, "master", message="Older")
    run(Deployment.objects.get(release__build=older))
    newer = passing_build(pipeline, "master", message="Newer")  # deploying now

    passing_build(pipeline, "master", message="Older (re-run)", sha=older.sha)
    # A commit CI saw before `newer`, whose pipeline passes only now.
    slow, _ = record_build(pipeline, sha=fake_sha("slow"), branch="master", status="running")
    Build.objects.filter(pk=slow.pk).update(created_at=older.created_at)
    passing_build(pipeline, "master", sha=slow.sha)

    uat.refresh_from_db()
    assert uat.waiting_build is None
    run(Deployment.objects.get(release__build=newer))
    assert not Deployment.objects.filter(status=DeploymentStatus.QUEUED).exists()


def test_the_board_shows_which_build_waits(pipeline, held_deployments, client_for):
    passing_build(pipeline, "master", message="First")
    waiting = passing_build(pipeline, "master", message="Second")

    page = client_for("developer").get(f"/pipelines/{pipeline.name}/").content.decode()
    assert f'Next: <span class="sha" title="{waiting.sha}">{waiting.short_sha}</span>' in page
    assert "deploys when the running deployment ends" in page


def fake(pipeline, message: str) -> str:
    return pipeline.builds.get(message=message).short_sha
