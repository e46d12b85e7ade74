"""The release steps of the seeds' deploy scripts on every driver — maintenance on, backup,
release command (migrations), maintenance off — with real commands writing real files:
their order, their own step rows, time limits and logs, and maintenance off whenever
maintenance on ran (a failed step, a cancel; a killed runner: tests/test_release_steps_kill.py)."""

import sys
from pathlib import Path

import pytest

from pipelines.deploys import cancel_deployment, request_deployment
from pipelines.models import DeploymentStatus, StepStatus
from pipelines.runner.run import run_deployment
from tests.deploying import (
    artifact_build,
    free_port,
    make_local,
    make_script,
    run_in_background,
    sample_build,
    stop_app,
    wait_for,
)
from tests.test_heroku_driver import heroku_env, slug_tarball

pytest_plugins = ["tests.test_heroku_driver"]  # its `heroku` fixture

LOCAL_ORDER = [
    "release",
    "maintenance on",
    "backup",
    "release command",
    "switch",
    "health check",
    "maintenance off",
]
SEEDS_ORDER = ["maintenance on", "backup", "release", "release command", "maintenance off"]


class Journal:
    """A file each command appends its name to, and the maintenance flag file."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "journal"
        self.flag = folder / "maintenance.on"

    def note(self, what: str) -> str:
        return f"echo '{what}' >> {self.path}"

    def commands(self, **instead: str) -> dict[str, str]:
        """The four commands; `instead` replaces one (before its journal entry)."""
        commands = {
            "maintenance_on_command": f"touch {self.flag} && {self.note('maintenance on')}",
            # Commands see only what they are given: not the server's secrets.
            "backup_command": (
                'echo "backing up; SECRET_KEY=${SECRET_KEY:-unset}" && ' + self.note("backup")
            ),
            "release_command": f"echo migrating && {self.note('release command')}",
            "maintenance_off_command": f"rm -f {self.flag} && {self.note('maintenance off')}",
        }
        for key, command in instead.items():
            commands[key] = f"{command} && {commands[key]}"
        return commands

    def lines(self) -> list[str]:
        return self.path.read_text().splitlines() if self.path.exists() else []


@pytest.fixture
def journal(tmp_path):
    return Journal(tmp_path)


@pytest.fixture
def target(tmp_path):
    path = tmp_path / "target"
    yield path
    stop_app(path)


def local_env(pipeline, target: Path, journal: Journal, **settings):
    port = free_port()
    restart = f"{sys.executable} current/control.py restart --port {port} --pidfile app.pid"
    env = make_local(
        pipeline.environments.get(name="dev"),
        target,
        port,
        restart_command=f"{journal.note('restart')} && {restart}",
        **{**journal.commands(), **settings},
    )
    return env


def script_env(pipeline, journal: Journal, **settings):
    env = make_script(pipeline.environments.get(name="dev"), journal.note("release"))
    env.driver_settings |= {**journal.commands(), **settings}
    env.save(update_fields=["driver_settings"])
    return env


def deploy(env, build):
    return run_deployment(request_deployment(env, build, cause="manual").pk)


def steps_of(deployment) -> list[tuple[str, str]]:
    return list(deployment.steps.values_list("name", "status"))


def log_of(deployment) -> list[str]:
    return list(deployment.log_lines.values_list("text", flat=True))


def lines_of_step(deployment, step: str) -> list[str]:
    """The log lines between a step's ▶ marker and its end (✔ or ✖)."""
    log = log_of(deployment)
    start = log.index(f"▶ {step}")
    end = next(i for i in range(start + 1, len(log)) if log[i].startswith(("✔", "✖")))
    return log[start + 1 : end]


# --- the order ----------------------------------------------------------------------------


def test_the_local_driver_unpacks_first_and_ends_maintenance_after_the_health_check(
    pipeline, target, journal, fast_runner
):
    dev = local_env(pipeline, target, journal)

    deployment = deploy(dev, sample_build(pipeline, "First"))

    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert steps_of(deployment) == [(step, StepStatus.SUCCEEDED) for step in LOCAL_ORDER]
    assert journal.lines() == [
        "maintenance on",
        "backup",
        "release command",
        "restart",
        "maintenance off",
    ]
    assert not journal.flag.exists()
    backup = lines_of_step(deployment, "backup")
    assert "backing up; SECRET_KEY=unset" in backup, backup
    assert "migrating" in lines_of_step(deployment, "release command")


def test_the_script_driver_runs_the_seeds_order(pipeline, journal, fast_runner):
    dev = script_env(pipeline, journal)

    deployment = deploy(dev, artifact_build(pipeline, b"artifact"))

    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert steps_of(deployment) == [(step, StepStatus.SUCCEEDED) for step in SEEDS_ORDER]
    assert journal.lines() == SEEDS_ORDER
    assert "backing up; SECRET_KEY=unset" in lines_of_step(deployment, "backup")


def test_without_the_commands_there_are_no_such_steps(pipeline, journal, fast_runner):
    dev = make_script(pipeline.environments.get(name="dev"), journal.note("release"))

    deployment = deploy(dev, artifact_build(pipeline, b"artifact"))

    assert steps_of(deployment) == [("release", StepStatus.SUCCEEDED)]


def test_heroku_backs_up_after_maintenance_on_and_before_the_release(
    pipeline, heroku, journal, fast_runner
):
    uat = heroku_env(pipeline, "uat", "webshop-uat")
    uat.driver_settings["backup_command"] = journal.commands()["backup_command"]
    uat.save(update_fields=["driver_settings"])

    deployment = deploy(uat, artifact_build(pipeline, slug_tarball()))

    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert steps_of(deployment) == [(step, StepStatus.SUCCEEDED) for step in SEEDS_ORDER]
    log = log_of(deployment)
    on, off = (log.index(f"Maintenance mode of webshop-uat is {s}.") for s in ("on", "off"))
    backup = log.index("backing up; SECRET_KEY=unset")
    released = next(i for i, line in enumerate(log) if line.startswith("Heroku release v42"))
    assert on < backup < released < off
    assert journal.lines() == ["backup"]


# --- maintenance off, whatever happens ------------------------------------------------------


def test_a_failing_backup_leaves_the_previous_release_and_turns_maintenance_off(
    pipeline, target, journal, fast_runner
):
    dev = local_env(pipeline, target, journal)
    first = sample_build(pipeline, "First")
    assert deploy(dev, first).status == DeploymentStatus.SUCCEEDED
    journal.path.unlink()
    dev.driver_settings |= journal.commands(backup_command="echo disk full >&2; exit 5")
    dev.save(update_fields=["driver_settings"])

    deployment = deploy(dev, sample_build(pipeline, "Second"))

    assert deployment.status == DeploymentStatus.FAILED
    assert deployment.error.startswith("backup failed: `echo disk full >&2; exit 5 && ")
    assert steps_of(deployment) == [
        ("release", StepStatus.SUCCEEDED),
        ("maintenance on", StepStatus.SUCCEEDED),
        ("backup", StepStatus.FAILED),
        ("release command", StepStatus.SKIPPED),
        ("switch", StepStatus.SKIPPED),
        ("health check", StepStatus.SKIPPED),
        ("maintenance off", StepStatus.SUCCEEDED),
    ]
    assert journal.lines() == ["maintenance on", "maintenance off"]
    assert not journal.flag.exists()
    assert "disk full" in lines_of_step(deployment, "backup")
    dev.refresh_from_db()
    assert dev.current_release.build == first


def test_a_failing_release_command_on_the_script_driver_turns_maintenance_off(
    pipeline, journal, fast_runner
):
    dev = script_env(pipeline, journal, **journal.commands(release_command="exit 7"))

    deployment = deploy(dev, artifact_build(pipeline, b"artifact"))

    assert deployment.status == DeploymentStatus.FAILED
    assert deployment.error.startswith("release command failed: `exit 7 && ")
    assert steps_of(deployment)[-2:] == [
        ("release command", StepStatus.FAILED),
        ("maintenance off", StepStatus.SUCCEEDED),
    ]
    assert journal.lines() == ["maintenance on", "backup", "release", "maintenance off"]
    assert not journal.flag.exists()


def test_a_failing_health_check_puts_the_previous_release_back_before_maintenance_ends(
    pipeline, target, journal, fast_runner
):
    dev = local_env(pipeline, target, journal, health_timeout=1)
    first = sample_build(pipeline, "First")
    assert deploy(dev, first).status == DeploymentStatus.SUCCEEDED
    journal.path.unlink()
    liar = sample_build(pipeline, "Liar", REVISION=b"0" * 40 + b"\nreports another commit\n")

    deployment = deploy(dev, liar)

    assert deployment.status == DeploymentStatus.FAILED
    assert deployment.error.startswith("health check failed:")
    assert steps_of(deployment)[-2:] == [
        ("health check", StepStatus.FAILED),
        ("maintenance off", StepStatus.SUCCEEDED),
    ]
    # The liar restarted, then the first release restarted, and only then maintenance off.
    assert journal.lines() == [
        "maintenance on",
        "backup",
        "release command",
        "restart",
        "restart",
        "maintenance off",
    ]
    assert not journal.flag.exists()
    assert (target / "current").readlink() == Path("releases/v1")


def test_a_failing_heroku_backup_makes_no_release_and_turns_maintenance_off(
    pipeline, heroku, fast_runner
):
    uat = heroku_env(pipeline, "uat", "webshop-uat")
    uat.driver_settings["backup_command"] = "echo pg:backups failed; exit 2"
    uat.save(update_fields=["driver_settings"])

    deployment = deploy(uat, artifact_build(pipeline, slug_tarball()))

    assert deployment.status == DeploymentStatus.FAILED
    assert heroku.calls() == [("PATCH", "/apps/webshop-uat"), ("PATCH", "/apps/webshop-uat")]
    assert [body for _, _, body in heroku.requests] == [
        {"maintenance": True},
        {"maintenance": False},
    ]
    assert steps_of(deployment) == [
        ("maintenance on", StepStatus.SUCCEEDED),
        ("backup", StepStatus.FAILED),
        ("release", StepStatus.SKIPPED),
        ("release command", StepStatus.SKIPPED),
        ("maintenance off", StepStatus.SUCCEEDED),
    ]


def test_a_failing_maintenance_on_still_gets_maintenance_off(pipeline, journal, fast_runner):
    """Half-on is on: the command may have done part of its job before it failed."""
    dev = script_env(pipeline, journal)
    dev.driver_settings["maintenance_on_command"] = f"touch {journal.flag}; exit 1"
    dev.save(update_fields=["driver_settings"])

    deployment = deploy(dev, artifact_build(pipeline, b"artifact"))

    assert deployment.status == DeploymentStatus.FAILED
    assert steps_of(deployment)[0] == ("maintenance on", StepStatus.FAILED)
    assert steps_of(deployment)[-1] == ("maintenance off", StepStatus.SUCCEEDED)
    assert not journal.flag.exists()


@pytest.mark.django_db(transaction=True)
def test_a_cancel_during_the_backup_still_turns_maintenance_off(
    pipeline, users, journal, fast_runner, held_deployments
):
    started = journal.path.parent / "backup-started"
    dev = script_env(pipeline, journal, backup_command=f"touch {started}; sleep 30")
    deployment = request_deployment(dev, artifact_build(pipeline, b"artifact"), cause="manual")
    thread = run_in_background(deployment.pk)
    wait_for(started.exists, what="the backup to start")

    cancel_deployment(deployment, by=users["lead"])
    thread.join(timeout=20)

    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.CANCELLED
    assert deployment.error == "Cancelled by lead during backup."
    assert steps_of(deployment) == [
        ("maintenance on", StepStatus.SUCCEEDED),
        ("backup", StepStatus.FAILED),
        ("release", StepStatus.SKIPPED),
        ("release command", StepStatus.SKIPPED),
        ("maintenance off", StepStatus.SUCCEEDED),
    ]
    assert journal.lines() == ["maintenance on", "maintenance off"]
    assert not journal.flag.exists()


# --- time limits -----------------------------------------------------------------------------


def test_a_backup_past_its_own_timeout_is_stopped_and_maintenance_ends(
    pipeline, journal, fast_runner
):
    dev = script_env(pipeline, journal, backup_command="echo dumping; sleep 30", backup_timeout=1)

    deployment = deploy(dev, artifact_build(pipeline, b"artifact"))

    assert deployment.status == DeploymentStatus.FAILED
    assert deployment.error == "backup failed: timed out after 1 s"
    assert "Timed out after 1 s: sending TERM" in "\n".join(log_of(deployment))
    assert steps_of(deployment)[-1] == ("maintenance off", StepStatus.SUCCEEDED)
    assert journal.lines() == ["maintenance on", "maintenance off"]


def test_a_backup_may_take_longer_than_the_other_steps(pipeline, journal, fast_runner):
    fast_runner.SLIPWAY_STEP_TIMEOUT_SECONDS = 0.5
    dev = script_env(pipeline, journal, backup_command="sleep 1", backup_timeout=20)

    deployment = deploy(dev, artifact_build(pipeline, b"artifact"))

    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error


@pytest.mark.django_db(transaction=True)
def test_a_cancel_that_arrives_during_maintenance_off_lets_it_finish(
    pipeline, users, journal, fast_runner, held_deployments
):
    """Stopping maintenance off half-way would only leave the site in maintenance."""
    started = journal.path.parent / "off-started"
    off = f"touch {started}; sleep 1; rm -f {journal.flag}"
    dev = script_env(pipeline, journal, maintenance_off_command=off)
    deployment = request_deployment(dev, artifact_build(pipeline, b"artifact"), cause="manual")
    thread = run_in_background(deployment.pk)
    wait_for(started.exists, what="maintenance off to start")

    cancel_deployment(deployment, by=users["lead"])
    thread.join(timeout=20)

    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert steps_of(deployment)[-1] == ("maintenance off", StepStatus.SUCCEEDED)
    assert not journal.flag.exists()


@pytest.mark.parametrize("failing", ["backup", "release", "release command"])
def test_whichever_script_step_fails_maintenance_off_follows(
    pipeline, journal, fast_runner, failing
):
    key = {"backup": "backup_command", "release command": "release_command"}.get(failing)
    dev = script_env(pipeline, journal, **(journal.commands(**{key: "exit 3"}) if key else {}))
    if failing == "release":
        dev.driver_settings["deploy_command"] = "exit 3"
        dev.save(update_fields=["driver_settings"])

    deployment = deploy(dev, artifact_build(pipeline, b"artifact"))

    assert deployment.status == DeploymentStatus.FAILED
    assert deployment.error.startswith(f"{failing} failed: `exit 3")
    statuses = dict(steps_of(deployment))
    assert statuses[failing] == StepStatus.FAILED
    assert statuses["maintenance off"] == StepStatus.SUCCEEDED
    assert journal.lines()[-1] == "maintenance off" and not journal.flag.exists()
