"""Per-branch environments with the real local driver: the sample app really started on its
own port by a branch's first passing build, really stopped (process gone, port free) when
the environment is deleted or expires, its history kept."""

import random
import socket
import sys
from datetime import timedelta

import pytest
import requests
import time_machine
from django.test import TestCase
from django.utils import timezone

from dashboard.demo import sampleapp_artifact
from pipelines.artifacts import store_artifact
from pipelines.branch_environments import expire_idle_environments
from pipelines.builds import attach_artifact, record_build
from pipelines.config import load_pipeline_text
from pipelines.deploys import deploy_build
from pipelines.errors import Conflict
from pipelines.models import AuditEvent, Deployment, DeploymentStatus, Environment, LogLine
from tests.deploying import stop_app, wait_for
from tests.factories import fake_sha
from tests.live import bearer
from tests.test_cli import slipway

BRANCH = "feature/gift-cards"


def free_ports(count: int) -> tuple[int, int]:
    """`count` consecutive ports nothing listens on."""
    for _ in range(200):
        low = random.randrange(20000, 40000)
        if all(_bindable(port) for port in range(low, low + count)):
            return low, low + count - 1
    raise AssertionError("no free port range")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def shop_toml(root, low: int, high: int, *, idle_days: int = 7, timeout: int = 10) -> str:
    python = sys.executable
    return f"""
[pipeline]
name = "shop"

[[environments]]
name = "dev"
branch = "master"

[[environments]]
name = "feature"
per_branch = true
branch = "feature/*"
driver = "local"
path = "{root}/{{branch}}"
restart_command = "{python} current/control.py restart --port {{port}} --pidfile app.pid"
health_url = "http://127.0.0.1:{{port}}/__version__"
health_timeout = {timeout}
stop_command = "{python} current/control.py stop --pidfile app.pid"
ports = "{low}-{high}"
idle_days = {idle_days}
delete_role = "lead"
"""


@pytest.fixture
def root(tmp_path, settings):
    settings.SLIPWAY_ARTIFACT_DIR = tmp_path / "artifacts"
    path = tmp_path / "envs"
    path.mkdir()
    yield path
    for target in path.iterdir():
        stop_app(target)


@pytest.fixture
def ports():
    return free_ports(3)


@pytest.fixture
def shop(db, root, ports, fast_runner):
    return load_pipeline_text(shop_toml(root, *ports), "shop.toml")


def branch_build(pipeline, branch: str = BRANCH, *, status: str = "passed", message="A change"):
    """CI reports a build of `branch` with the sample app as its artifact; the auto-deploy
    runs as it would after the request's commit."""
    sha = fake_sha(message)
    with TestCase.captureOnCommitCallbacks(execute=True):
        build, _ = record_build(pipeline, sha=sha, branch=branch, status=status, message=message)
        attach_artifact(build, store_artifact([sampleapp_artifact(sha, message, {})]))
    build.refresh_from_db()
    return build


def served_sha(port: int) -> str:
    with requests.Session() as session:
        session.trust_env = False
        return session.get(f"http://127.0.0.1:{port}/__version__", timeout=5).json()["sha"]


def app_pid(env: Environment) -> int:
    return int((env_dir(env) / "app.pid").read_text())


def env_dir(env: Environment):
    return __import__("pathlib").Path(env.driver_settings["path"])


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_failing_build_creates_nothing_the_first_passing_one_creates_and_deploys(
    shop, root, ports
):
    branch_build(shop, status="failed")
    assert not Environment.every.filter(template__isnull=False).exists()

    build = branch_build(shop, message="Gift cards")

    env = Environment.objects.get(name="feature-gift-cards")
    assert (env.template.name, env.source_branch, env.port) == ("feature", BRANCH, ports[0])
    assert env.driver_settings["path"] == f"{root}/feature-gift-cards"
    assert env.driver_settings["health_url"] == f"http://127.0.0.1:{ports[0]}/__version__"
    assert env.current_release.build == build
    assert served_sha(ports[0]) == build.sha
    assert AuditEvent.objects.filter(action="branch_environment_created", environment=env).exists()
    template = Environment.objects.get(name="feature")
    assert not template.deployments.exists()  # the template itself never deploys

    second = branch_build(shop, message="Gift cards, take two")

    env.refresh_from_db()
    assert Environment.objects.filter(template=template).count() == 1
    assert env.current_release.label == "v2"
    assert served_sha(ports[0]) == second.sha


def test_the_template_is_never_deployed_by_hand_either(shop, users):
    build = branch_build(shop, "master")
    with pytest.raises(Conflict, match="per-branch template: it never deploys"):
        deploy_build(Environment.objects.get(name="feature"), build, by=users["lead"])


def test_two_branches_get_two_ports_and_the_board_and_api_show_them_after_the_template(
    shop, ports, client_for, token_for
):
    branch_build(shop, "feature/gift-cards")
    branch_build(shop, "feature/search")

    names = [env["name"] for env in _pipeline_json(token_for)["environments"]]
    assert names == ["dev", "feature", "feature-gift-cards", "feature-search"]
    search = _pipeline_json(token_for)["environments"][3]
    assert search["template"] == "feature"
    assert search["source_branch"] == "feature/search"
    assert search["port"] == ports[0] + 1
    assert served_sha(ports[0] + 1) == search["release"]["sha"]
    page = client_for("developer").get("/pipelines/shop/").content.decode()
    assert page.index("feature-gift-cards") > page.index('id="env-feature"')
    assert "feature/search" in page


def _pipeline_json(token_for):
    from django.test import Client

    client = Client(headers=bearer(token_for("developer")))
    return client.get("/api/v1/pipelines/shop").json()


def test_deleting_through_the_api_stops_its_app_frees_its_port_and_keeps_its_history(
    shop, ports, token_for, client_for
):
    branch_build(shop)
    env = Environment.objects.get(name="feature-gift-cards")
    pid = app_pid(env)
    deployment = env.deployments.get()
    from django.test import Client

    as_developer = Client(headers=bearer(token_for("developer")))
    refused = as_developer.delete("/api/v1/pipelines/shop/environments/feature-gift-cards")
    assert refused.status_code == 403
    assert (
        "may not delete feature-gift-cards: that takes a lead" in refused.json()["error"]["message"]
    )

    as_lead = Client(headers=bearer(token_for("lead")))
    answer = as_lead.delete(
        "/api/v1/pipelines/shop/environments/feature-gift-cards",
        data={"reason": "merged"},
        content_type="application/json",
    )

    assert answer.status_code == 200, answer.content
    assert answer.json()["source_branch"] == BRANCH
    wait_for(lambda: gone(pid), what="the app to stop")
    assert _bindable(ports[0])
    assert not Environment.objects.filter(name="feature-gift-cards").exists()
    kept = Environment.every.get(pk=env.pk)
    assert kept.removed_at is not None and kept.port is None
    assert Deployment.objects.filter(pk=deployment.pk, status=DeploymentStatus.SUCCEEDED).exists()
    assert LogLine.objects.filter(deployment=deployment).exists()
    deleted = AuditEvent.objects.get(action="branch_environment_deleted")
    assert "merged" in deleted.message and f"port {ports[0]} freed" in deleted.message
    assert client_for("developer").get(f"/deployments/{deployment.pk}/").status_code == 200
    names = [e["name"] for e in _pipeline_json(token_for)["environments"]]
    assert "feature-gift-cards" not in names

    again = as_lead.delete("/api/v1/pipelines/shop/environments/feature-gift-cards")
    assert again.status_code == 404
    declared = as_lead.delete("/api/v1/pipelines/shop/environments/dev")
    assert declared.status_code == 409
    assert "declared in pipeline.toml" in declared.json()["error"]["message"]

    # The branch's next passing build makes it again, on the freed port, from v1.
    branch_build(shop, message="After the merge, a fix")
    back = Environment.objects.get(name="feature-gift-cards")
    assert back.pk != env.pk and back.port == ports[0]
    assert back.current_release.label == "v1"


def test_an_environment_being_deployed_is_not_deleted(shop, users, held_deployments):
    branch_build(shop)
    env = Environment.objects.get(name="feature-gift-cards")
    queued = env.deployments.get()
    assert queued.status == DeploymentStatus.QUEUED
    from pipelines.branch_environments import delete_environment

    with pytest.raises(Conflict, match=f"Deployment #{queued.pk} of feature-gift-cards is still"):
        delete_environment(env, by=users["lead"])
    assert Environment.objects.filter(pk=env.pk).exists()


def test_loading_pipeline_toml_again_keeps_its_branch_environments_and_refreshes_them(
    shop, root, ports
):
    branch_build(shop)
    text = shop_toml(root, *ports, timeout=20)
    from pipelines.config import apply_pipeline, parse_pipeline_text

    report = apply_pipeline(parse_pipeline_text(text, "shop.toml"))

    env = Environment.objects.get(name="feature-gift-cards")
    assert env.driver_settings["health_timeout"] == 20
    assert env.port == ports[0]
    assert "feature-gift-cards" not in report.environments_left_out
    assert not report.warnings()


def test_a_declared_environment_may_not_take_a_branch_environment_name(shop, root, ports):
    branch_build(shop)
    text = shop_toml(root, *ports) + '\n[[environments]]\nname = "feature-gift-cards"\n'
    from pipelines.errors import ConfigError

    with pytest.raises(ConfigError, match="is the environment of branch 'feature/gift-cards'"):
        load_pipeline_text(text, "shop.toml")


def test_an_idle_environment_expires_after_idle_days_without_builds(shop, ports):
    start = timezone.now()
    with time_machine.travel(start, tick=True):
        branch_build(shop)
    env = Environment.objects.get(name="feature-gift-cards")

    with time_machine.travel(start + timedelta(days=6), tick=True):
        assert expire_idle_environments() == []
        branch_build(shop, message="Still working on it")  # a build: idle from here again
    with time_machine.travel(start + timedelta(days=12), tick=True):
        assert expire_idle_environments() == []
    pid = app_pid(env)
    assert not gone(pid)

    with time_machine.travel(start + timedelta(days=13, hours=1), tick=True):
        assert expire_idle_environments() == ["feature-gift-cards"]

    wait_for(lambda: gone(pid), what="the app to stop")
    assert _bindable(ports[0])
    event = AuditEvent.objects.get(action="branch_environment_deleted")
    assert "deleted by Slipway (no build of feature/gift-cards for 7 days)" in event.message


def test_the_expiry_runs_in_celery_beat_and_the_embedded_timer(settings, db):
    from pipelines.branch_environments import expire_idle_environments as job
    from pipelines.runner import embedded

    assert ("SLIPWAY_BRANCH_EXPIRY_SECONDS", job) in embedded._periodic
    beat = settings.CELERY_BEAT_SCHEDULE["expire-branch-environments"]
    assert beat["task"] == "pipelines.expire_branch_environments"
    from dashboard.celery import app

    app.loader.import_default_modules()
    assert "pipelines.expire_branch_environments" in app.tasks


def test_a_removal_cut_short_before_the_app_stopped_is_finished_by_the_next_round(shop, ports):
    branch_build(shop)
    env = Environment.objects.get(name="feature-gift-cards")
    pid = app_pid(env)
    # The power went after the row was marked, before the stop command ran.
    Environment.every.filter(pk=env.pk).update(removed_at=timezone.now())
    assert not _bindable(ports[0]) and Environment.every.get(pk=env.pk).port == ports[0]

    expire_idle_environments()

    wait_for(lambda: gone(pid), what="the app to stop")
    assert Environment.every.get(pk=env.pk).port is None
    assert _bindable(ports[0])


def test_a_failing_stop_command_leaves_the_environment_in_place(shop, users):
    branch_build(shop)
    env = Environment.objects.get(name="feature-gift-cards")
    Environment.objects.filter(pk=env.pk).update(
        branch_settings={"stop_command": "echo cannot stop it >&2; exit 3"}
    )
    env.refresh_from_db()
    from pipelines.branch_environments import delete_environment

    with pytest.raises(Conflict, match="exited with status 3: cannot stop it"):
        delete_environment(env, by=users["lead"])

    env.refresh_from_db()
    assert env.removed_at is None and env.port is not None
    assert served_sha(env.port) == env.current_release.build.sha


def test_slipway_env_delete_stops_its_app_through_the_server(
    slipway_server, root, ports, fast_runner, token_for
):
    pipeline = load_pipeline_text(shop_toml(root, *ports), "shop.toml")
    branch_build(pipeline)
    env = Environment.objects.get(name="feature-gift-cards")
    pid = app_pid(env)
    as_lead = {"SLIPWAY_URL": slipway_server.url, "SLIPWAY_TOKEN": token_for("lead")}

    refused = slipway(
        "env", "delete", "feature-gift-cards", env={**as_lead, "SLIPWAY_TOKEN": token_for("qa")}
    )
    assert refused.returncode == 1
    assert "qa may not delete feature-gift-cards" in refused.stderr

    result = slipway("env", "delete", "feature-gift-cards", "--reason", "merged", env=as_lead)

    assert result.returncode == 0, result.stderr
    assert "feature-gift-cards (branch feature/gift-cards) deleted" in result.stdout
    wait_for(lambda: gone(pid), what="the app to stop")
    assert _bindable(ports[0])
    assert Environment.every.get(pk=env.pk).removed_at is not None
    missing = slipway("env", "delete", "feature-gift-cards", env=as_lead)
    assert missing.returncode == 1 and "no environment 'feature-gift-cards'" in missing.stderr


def test_the_environment_page_deletes_a_branch_environment_for_whoever_may(
    shop, ports, users, client_for
):
    """The page's Delete: shown to a lead (delete_role = "lead" here) on a branch
    environment only; a forged post by anyone else changes nothing; the lead's stops the
    app, frees the port and is audited as the API's DELETE is."""
    branch_build(shop)
    env = Environment.objects.get(name="feature-gift-cards")
    pid = app_pid(env)
    page_url = "/pipelines/shop/environments/feature-gift-cards/"
    delete_url = "/pipelines/shop/environments/feature-gift-cards/delete"
    developer, lead = client_for("developer"), client_for("lead")

    assert 'data-action="delete-environment"' not in developer.get(page_url).content.decode()
    assert 'data-action="delete-environment"' in lead.get(page_url).content.decode()
    declared = lead.get("/pipelines/shop/environments/dev/").content.decode()
    assert 'data-action="delete-environment"' not in declared

    forged = developer.post(delete_url, {"reason": "tidy"}, follow=True)
    assert "may not delete feature-gift-cards: that takes a lead" in forged.content.decode()
    assert Environment.objects.filter(pk=env.pk).exists() and not gone(pid)

    answer = lead.post(delete_url, {"reason": "merged  in\nmain"}, follow=True)

    assert answer.redirect_chain[-1][0] == "/pipelines/shop/"
    assert "Deleted feature-gift-cards (branch feature/gift-cards)" in answer.content.decode()
    wait_for(lambda: gone(pid), what="the app to stop")
    assert _bindable(ports[0])
    assert not Environment.objects.filter(pk=env.pk).exists()
    deleted = AuditEvent.objects.get(action="branch_environment_deleted")
    assert deleted.actor == users["lead"]
    assert "deleted by lead (merged in main)" in deleted.message
