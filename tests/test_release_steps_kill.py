"""Power cut: the runner is SIGKILLed while maintenance is on. Whoever settles the dead
deployment (the reaper) finds the intent the runner recorded before maintenance on, and
turns maintenance off — on the deployment's own "maintenance off" step row, in its log."""

import sys

import pytest

from pipelines.deploys import request_deployment
from pipelines.models import Deployment, DeploymentStatus, StepStatus
from pipelines.models.deployments import ACTIVE_STATUSES
from pipelines.runner.processes import members
from pipelines.runner.reaper import reap_stale_deployments
from tests.deploying import free_port, make_local, sample_build, stop_app, wait_for
from tests.test_settling import died_running

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def target(tmp_path):
    path = tmp_path / "target"
    yield path
    stop_app(path)


def test_a_runner_killed_during_the_backup_leaves_maintenance_off_once_settled(
    celery_workers, settings, pipeline, target, tmp_path, fast_runner
):
    flag, backing_up = tmp_path / "maintenance.on", tmp_path / "backing-up"
    port = free_port()
    dev = make_local(
        pipeline.environments.get(name="dev"),
        target,
        port,
        maintenance_on_command=f"touch {flag}",
        backup_command=f"touch {backing_up}; sleep 60",
        maintenance_off_command=f"rm {flag} && echo maintenance is off",
        restart_command=f"{sys.executable} current/control.py restart --port {port} "
        "--pidfile app.pid",
    )
    worker = celery_workers.start(beat=False)  # the test settles: no reaper in the worker
    settings.REDIS_URL = worker.redis_url
    deployment = request_deployment(dev, sample_build(pipeline, "First"), cause="manual")
    wait_for(backing_up.exists, 60, f"the backup to start:\n{worker.log()}")
    assert flag.exists()

    worker.kill()  # SIGKILL to the worker and its children: nobody turns maintenance off
    assert flag.exists()
    settings.SLIPWAY_STALE_AFTER_SECONDS = 1
    wait_for(lambda: reap_stale_deployments() == [deployment.pk], 10, "the reaper to settle it")

    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.INTERRUPTED
    assert deployment.settled == (
        "Interrupted before the switch; nothing was deployed here before; maintenance turned off."
    )
    assert not flag.exists()
    assert list(deployment.steps.values_list("name", "status")) == [
        ("release", StepStatus.SUCCEEDED),
        ("maintenance on", StepStatus.SUCCEEDED),
        ("backup", StepStatus.FAILED),
        ("switch", StepStatus.SKIPPED),
        ("health check", StepStatus.SKIPPED),
        ("maintenance off", StepStatus.SUCCEEDED),
    ]
    log = list(deployment.log_lines.values_list("text", flat=True))
    assert log.index("▶ maintenance off") < log.index("maintenance is off")
    assert deployment.intent["maintenance"] is False
    for group in deployment.process_groups:  # the backup's `sleep 60` was ended
        assert members(group["pgid"], deployment.pk) == [], group
    assert not Deployment.objects.filter(status__in=ACTIVE_STATUSES).exists()


def test_a_script_deployment_whose_runner_died_after_maintenance_on_gets_maintenance_off(
    pipeline, tmp_path, fast_runner, held_deployments
):
    flag = tmp_path / "maintenance.on"
    flag.touch()  # as the dead runner's maintenance on left it
    dev = pipeline.environments.get(name="dev")
    dev.driver, dev.driver_settings = (
        "script",
        {
            "deploy_command": "true",
            "maintenance_on_command": f"touch {flag}",
            "maintenance_off_command": f"rm {flag}",
        },
    )
    dev.save(update_fields=["driver", "driver_settings"])
    deployment = request_deployment(dev, sample_build(pipeline, "First"), cause="manual")
    died_running(deployment, ["maintenance on", "release", "maintenance off"], 1, maintenance=True)

    assert reap_stale_deployments() == [deployment.pk]

    deployment.refresh_from_db()
    assert deployment.settled == "Interrupted; dev keeps serving nothing; maintenance turned off."
    assert not flag.exists()
    assert deployment.steps.get(name="maintenance off").status == StepStatus.SUCCEEDED


def test_a_maintenance_off_that_fails_for_the_reaper_says_check_by_hand(
    pipeline, tmp_path, fast_runner, held_deployments
):
    dev = pipeline.environments.get(name="dev")
    dev.driver, dev.driver_settings = (
        "script",
        {
            "deploy_command": "true",
            "maintenance_on_command": "true",
            "maintenance_off_command": "echo the load balancer is away >&2; exit 1",
        },
    )
    dev.save(update_fields=["driver", "driver_settings"])
    deployment = request_deployment(dev, sample_build(pipeline, "First"), cause="manual")
    died_running(deployment, ["maintenance on", "release", "maintenance off"], 1, maintenance=True)

    reap_stale_deployments()

    deployment.refresh_from_db()
    assert deployment.settled == (
        "Interrupted; dev keeps serving nothing; turning maintenance off failed; check it by hand."
    )
    assert deployment.steps.get(name="maintenance off").status == StepStatus.FAILED
    log = list(deployment.log_lines.values_list("text", flat=True))
    assert "the load balancer is away" in log
