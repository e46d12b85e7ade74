"""The release steps on a blue-green environment behind a real nginx: maintenance and the
backup around the migration, the idle slot started and checked, the switch, and only then
maintenance off — or, when the idle slot is not healthy, maintenance off with traffic
never moved."""

from dashboard.demo import SAMPLE_APP
from pipelines.models import DeploymentStatus, StepStatus
from tests.deploying import sample_build
from tests.test_blue_green import deploy
from tests.test_release_steps import Journal

pytest_plugins = ["tests.test_blue_green"]  # its `live`, `target` and `router` fixtures

BLUE_GREEN_ORDER = [
    "release",
    "maintenance on",
    "backup",
    "release command",
    "start idle slot",
    "health check",
    "switch",
    "maintenance off",
]


def with_release_steps(live, journal: Journal):
    live.driver_settings |= journal.commands()
    live.save(update_fields=["driver_settings"])
    return live


def test_blue_green_ends_maintenance_after_the_switch(live, router, tmp_path):
    journal = Journal(tmp_path)
    with_release_steps(live, journal)
    build = sample_build(live.pipeline, "First")

    deployment = deploy(live, build)

    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    steps = list(deployment.steps.values_list("name", "status"))
    assert steps == [(step, StepStatus.SUCCEEDED) for step in BLUE_GREEN_ORDER]
    assert journal.lines() == ["maintenance on", "backup", "release command", "maintenance off"]
    assert not journal.flag.exists()
    assert router.served_sha() == build.sha


def test_an_unhealthy_idle_slot_leaves_traffic_where_it_was_and_maintenance_off(
    live, router, tmp_path
):
    journal = Journal(tmp_path)
    good = sample_build(live.pipeline, "Good")
    assert deploy(live, good).status == DeploymentStatus.SUCCEEDED
    with_release_steps(live, journal)
    live.driver_settings["health_timeout"] = 1
    live.save(update_fields=["driver_settings"])
    wrong = (
        (SAMPLE_APP / "app.py").read_bytes().replace(b'"sha": lines[0]', b'"sha": "x" or lines[0]')
    )
    broken = sample_build(live.pipeline, "Broken", **{"app.py": wrong})

    deployment = deploy(live, broken)

    assert deployment.status == DeploymentStatus.FAILED
    assert list(deployment.steps.values_list("name", "status"))[-3:] == [
        ("health check", StepStatus.FAILED),
        ("switch", StepStatus.SKIPPED),
        ("maintenance off", StepStatus.SUCCEEDED),
    ]
    assert journal.lines() == ["maintenance on", "backup", "release command", "maintenance off"]
    assert not journal.flag.exists()
    assert router.served_sha() == good.sha
