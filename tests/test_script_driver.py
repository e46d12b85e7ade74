"""The script driver: the environment's own command, its output streamed as it comes;
cancelling, timeouts and the log cap."""

import pytest

from pipelines.deploys import cancel_deployment, request_deployment
from pipelines.models import Deployment, DeploymentStatus, LogLine
from pipelines.runner.run import run_deployment
from tests.deploying import (
    artifact_build,
    make_script,
    run_in_background,
    wait_for,
)


def log_of(deployment) -> list[str]:
    return list(LogLine.objects.filter(deployment=deployment).values_list("text", flat=True))


def request(pipeline, command, **kwargs):
    dev = make_script(pipeline.environments.get(name="dev"), command)
    build = artifact_build(pipeline, b"bytes of the artifact")
    return request_deployment(dev, build, cause="manual", **kwargs), build


@pytest.mark.django_db(transaction=True)
def test_output_reaches_the_log_while_the_script_still_runs(
    pipeline, tmp_path, fast_runner, held_deployments
):
    go_on = tmp_path / "go-on"
    deployment, _ = request(
        pipeline, f"echo first; while [ ! -f {go_on} ]; do sleep 0.05; done; echo second"
    )
    thread = run_in_background(deployment.pk)

    wait_for(lambda: "first" in log_of(deployment), what="the first line")
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.RUNNING
    assert "second" not in log_of(deployment)

    go_on.touch()
    thread.join(timeout=15)
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.SUCCEEDED
    assert log_of(deployment).index("first") < log_of(deployment).index("second")


def test_the_script_gets_the_slipway_variables(pipeline, fast_runner):
    deployment, build = request(
        pipeline,
        'echo "$SLIPWAY_SHA $SLIPWAY_VERSION $SLIPWAY_ENVIRONMENT $SLIPWAY_PIPELINE"; '
        'test -f "$SLIPWAY_ARTIFACT" && echo artifact-here; echo oops >&2',
    )

    deployment = run_deployment(deployment.pk)

    assert deployment.status == DeploymentStatus.SUCCEEDED
    assert f"{build.sha} v1 dev webshop" in log_of(deployment)
    assert "artifact-here" in log_of(deployment)
    assert deployment.log_lines.get(text="oops").stream == LogLine.Stream.STDERR


def test_a_failing_script_fails_the_deployment(pipeline, fast_runner):
    deployment, _ = request(pipeline, "echo trying; exit 4")

    deployment = run_deployment(deployment.pk)

    assert deployment.status == DeploymentStatus.FAILED
    assert deployment.error == "release failed: `echo trying; exit 4` exited with status 4"
    assert deployment.environment.current_release is None


@pytest.mark.django_db(transaction=True)
def test_a_lead_cancels_a_running_script_with_term(pipeline, users, fast_runner, held_deployments):
    deployment, _ = request(pipeline, "echo started; sleep 30")
    thread = run_in_background(deployment.pk)
    wait_for(lambda: "started" in log_of(deployment), what="the script to start")

    cancel_deployment(deployment, by=users["lead"])
    thread.join(timeout=15)

    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.CANCELLED
    assert deployment.error == "Cancelled by lead during release."
    log = "\n".join(log_of(deployment))
    assert "Cancel requested by lead" in log
    assert "Cancelled by lead: sending TERM" in log
    assert "sending KILL" not in log


@pytest.mark.django_db(transaction=True)
def test_a_script_ignoring_term_gets_kill_after_the_grace_period(
    pipeline, users, fast_runner, held_deployments
):
    deployment, _ = request(pipeline, "trap '' TERM; echo started; while true; do sleep 0.1; done")
    thread = run_in_background(deployment.pk)
    wait_for(lambda: "started" in log_of(deployment), what="the script to start")

    cancel_deployment(deployment, by=users["lead"])
    thread.join(timeout=15)

    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.CANCELLED
    assert "Still running 1 s after TERM: sending KILL." in log_of(deployment)


def test_a_queued_deployment_cancelled_never_runs(pipeline, users, fast_runner):
    deployment, _ = request(pipeline, "echo should not run")

    cancel_deployment(deployment, by=users["lead"])

    assert run_deployment(deployment.pk) is None
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.CANCELLED
    assert "should not run" not in log_of(deployment)


def test_only_a_lead_cancels(pipeline, users, fast_runner):
    from pipelines.errors import PermissionDenied

    deployment, _ = request(pipeline, "true")
    with pytest.raises(PermissionDenied):
        cancel_deployment(deployment, by=users["developer"])
    assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.QUEUED


def test_a_step_past_its_timeout_is_stopped_and_fails(pipeline, fast_runner):
    fast_runner.SLIPWAY_STEP_TIMEOUT_SECONDS = 0.5
    deployment, _ = request(pipeline, "echo waiting; sleep 30")

    deployment = run_deployment(deployment.pk)

    assert deployment.status == DeploymentStatus.FAILED
    assert deployment.error == "release failed: timed out after 0.5 s"
    assert "Timed out after 0.5 s: sending TERM" in "\n".join(log_of(deployment))


def test_a_log_past_the_cap_is_cut_with_a_marker(pipeline, fast_runner):
    fast_runner.SLIPWAY_LOG_MAX_LINES = 20
    deployment, _ = request(pipeline, "seq 1 500")

    deployment = run_deployment(deployment.pk)

    assert deployment.status == DeploymentStatus.SUCCEEDED
    log = log_of(deployment)
    assert "✂ Log cut at 20 lines: further output of this deployment is not stored." in log
    assert "500" not in log
    assert any("lines of output were not stored (log cap)" in line for line in log)
    assert len(log) < 30
    seqs = list(deployment.log_lines.values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_line_written_in_pieces_is_logged_whole(pipeline, fast_runner):
    """Unbuffered Python's print() writes the text, then the newline: two reads."""
    deployment, _ = request(
        pipeline,
        "printf 'half a '; sleep 0.2; printf 'line\\n'; python3 -u -c \"print('from print()')\"",
    )

    deployment = run_deployment(deployment.pk)

    assert deployment.status == DeploymentStatus.SUCCEEDED
    log = log_of(deployment)
    assert "half a line" in log and "from print()" in log, log
    assert "" not in log, log
