"""Per-branch environments against what CI may send: hostile branch names, more branches
than ports, two first builds of one branch at once."""

import threading

import pytest
from django.db import connection
from django.test import TestCase

from pipelines.artifacts import store_artifact
from pipelines.branch_environments import delete_environment
from pipelines.branch_names import slugify_branch
from pipelines.builds import attach_artifact, record_build
from pipelines.config import load_pipeline_text
from pipelines.models import AuditEvent, Environment, Release
from pipelines.runner.run import run_deployment
from tests.factories import fake_sha
from tests.test_branch_environments import free_ports
from tests.test_notifications import quick_retries, receiver  # noqa: F401 - fixtures


def script_toml(root, low: int, high: int) -> str:
    # The deploy command writes where {branch} and {port} say; a branch name that escaped
    # the slug would run `$(…)` or climb out of `root`.
    return f"""
[pipeline]
name = "shop"

[[environments]]
name = "feature"
per_branch = true
branch = "feature/*"
driver = "script"
deploy_command = "mkdir -p '{root}/{{branch}}' && echo {{port}} > '{root}/{{branch}}/port'"
env = {{ SITE = "http://{{branch}}.localhost:{{port}}/" }}
ports = "{low}-{high}"
"""


@pytest.fixture
def root(tmp_path, settings):
    settings.SLIPWAY_ARTIFACT_DIR = tmp_path / "artifacts"
    path = tmp_path / "envs"
    path.mkdir()
    return path


def passing(pipeline, branch: str, label: str = "build"):
    with TestCase.captureOnCommitCallbacks(execute=True):
        build, _ = record_build(pipeline, sha=fake_sha(label), branch=branch, status="passed")
        attach_artifact(build, store_artifact([label.encode()]))
    return build


HOSTILE = {
    "climbing": ("feature/../../../etc/passwd", "feature-etc-passwd"),
    "shell": ("feature/a b 'c' \"d\" $(touch PWNED) `touch PWNED`;rm -rf /", None),
    "unicode": ("feature/Ünïcödé-Straße-🚀", "feature-unicode-strae"),
    "long": ("feature/" + "x" * 247, "feature-" + "x" * 56),
    "globs": ("feature/[*]?", "feature"),
    "nothing_left": ("feature/🚀🚀", "feature"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("branch, name", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_branch_name_becomes_a_safe_slug_everywhere(root, branch, name, tmp_path):
    pipeline = load_pipeline_text(script_toml(root, *free_ports(2)), "shop.toml")

    passing(pipeline, branch)

    env = Environment.objects.get(template__name="feature")
    assert env.source_branch == branch
    if name == "feature":  # the template's own name is taken: a hash tells branches apart
        assert env.name.startswith("feature-") and len(env.name) == len("feature-") + 7
    elif name:
        assert env.name == name
    assert len(env.name) <= 64
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in env.name)
    assert env.command_env["SITE"] == f"http://{env.name}.localhost:{env.port}/"
    assert [p.name for p in root.iterdir()] == [env.name]
    assert (root / env.name / "port").read_text().strip() == str(env.port)
    assert not list(tmp_path.rglob("PWNED"))
    assert env.current_release.deployment.status == "succeeded"


@pytest.mark.django_db
def test_two_branches_that_slugify_alike_get_two_environments(root):
    pipeline = load_pipeline_text(script_toml(root, *free_ports(2)), "shop.toml")

    passing(pipeline, "feature/Gift Cards", "one")
    passing(pipeline, "feature/gift-cards", "two")

    envs = Environment.objects.filter(template__name="feature").order_by("pk")
    assert [e.source_branch for e in envs] == ["feature/Gift Cards", "feature/gift-cards"]
    first, second = envs
    assert first.name == "feature-gift-cards"
    assert second.name.startswith("feature-gift-cards-") and second.name != first.name
    assert first.port != second.port
    assert sorted(p.name for p in root.iterdir()) == sorted([first.name, second.name])
    assert slugify_branch("feature/gift-cards") == first.name


@pytest.mark.django_db
def test_when_the_ports_run_out_the_next_branch_gets_a_clear_message_and_nothing_half_made(root):
    low, high = free_ports(2)
    pipeline = load_pipeline_text(script_toml(root, low, high), "shop.toml")
    passing(pipeline, "feature/one", "one")
    passing(pipeline, "feature/two", "two")
    releases = Release.objects.count()

    passing(pipeline, "feature/three", "three")

    assert sorted(Environment.objects.exclude(port=None).values_list("port", flat=True)) == [
        low,
        high,
    ]
    assert not Environment.every.filter(source_branch="feature/three").exists()
    assert Release.objects.count() == releases
    refused = AuditEvent.objects.get(action="branch_environment_refused")
    assert f"all 2 ports of feature ({low}-{high}) are taken (feature-one, feature-two)" in (
        refused.message
    )
    assert "slipway env delete NAME" in refused.message
    assert not (root / "feature-three").exists()


@pytest.mark.django_db(transaction=True)
def test_two_first_builds_of_one_branch_at_once_make_one_environment(root, monkeypatch):
    pipeline = load_pipeline_text(script_toml(root, *free_ports(3)), "shop.toml")
    started = []
    monkeypatch.setattr("pipelines.runner.dispatch.start_deployment", lambda pk: started.append(pk))
    builds = []
    for label in ("first", "second"):
        build, _ = record_build(
            pipeline, sha=fake_sha(label), branch="feature/race", status="failed"
        )
        attach_artifact(build, store_artifact([label.encode()]))
        builds.append(build)
    barrier = threading.Barrier(2)
    errors = []

    def pass_build(build):
        try:
            barrier.wait()
            record_build(pipeline, sha=build.sha, status="passed")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=pass_build, args=(b,)) for b in builds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors
    envs = list(Environment.objects.filter(template__name="feature"))
    assert [e.name for e in envs] == ["feature-race"]
    assert AuditEvent.objects.filter(action="branch_environment_created").count() == 1
    for pk in started:
        run_deployment(pk)
    assert envs[0].deployments.count() >= 1


@pytest.mark.django_db
def test_making_and_deleting_one_is_audited_and_announced(root, receiver, users):  # noqa: F811
    text = script_toml(root, *free_ports(2)).replace(
        'name = "shop"\n',
        'name = "shop"\n\n[[pipeline.notifications]]\nkind = "slack"\n'
        f'url = "{receiver.url}/slack"\n',
    )
    pipeline = load_pipeline_text(text, "shop.toml")
    build = passing(pipeline, "feature/news")
    env = Environment.objects.get(name="feature-news")
    with TestCase.captureOnCommitCallbacks(execute=True):
        delete_environment(env, by=users["lead"], reason="merged")

    texts = [body["text"] for body in receiver.bodies("/slack")]
    assert (
        f"shop: feature-news created from feature for branch feature/news on port {env.port} "
        f"(first passing build {build.short_sha})"
    ) in texts
    assert any(
        t.startswith("shop: feature-news (branch feature/news) deleted by lead (merged)")
        for t in texts
    )
    actions = list(AuditEvent.objects.filter(environment=env).values_list("action", flat=True))
    assert {"branch_environment_created", "branch_environment_deleted"} <= set(actions)


@pytest.mark.django_db
def test_many_branches_stay_a_compact_group_under_their_template_on_the_board(
    root, client_for, users
):
    pipeline = load_pipeline_text(
        script_toml(root, *free_ports(8)).replace(
            'name = "shop"\n', 'name = "shop"\n\n[[environments]]\nname = "dev"\nbranch = "main"\n'
        ),
        "shop.toml",
    )
    for number in range(8):
        passing(pipeline, f"feature/topic-{number}", f"topic {number}")

    page = client_for("developer").get("/pipelines/shop/").content.decode()

    flow = page[page.index('id="board"') : page.index('aria-label="Per-branch environments"')]
    assert 'id="env-dev"' in flow and "topic" not in flow
    group = page[page.index('id="env-feature"') :]
    assert group.count('class="branch-env state-healthy"') == 8
    visible, more = group.split('<details class="branch-more">')
    assert visible.count("branch-env ") == 6
    assert "2 more branch environments" in more
    assert "ports " in group and "8 in use" in group

    from dashboard.live_data import board_frame

    frame = board_frame(pipeline, users["developer"])
    assert frame.count('hx-swap-oob="true"') == frame.count("<article") + 1  # + the banner
    assert 'id="env-feature"' in frame and 'id="env-feature-topic-7"' in frame
    assert '<article class="card state-healthy" id="env-feature-topic' not in frame


@pytest.mark.django_db
def test_the_drift_probe_asks_each_branch_environment_on_its_port_never_the_template(root):
    from django.utils import timezone

    from pipelines.probe import due_environments

    low, high = free_ports(2)
    text = script_toml(root, low, high) + 'version_url = "http://127.0.0.1:{port}/__version__"\n'
    pipeline = load_pipeline_text(text, "shop.toml")
    passing(pipeline, "feature/probed")

    due = due_environments(timezone.now())

    assert [(env.name, env.version_url) for env in due] == [
        ("feature-probed", f"http://127.0.0.1:{low}/__version__")
    ]


@pytest.mark.django_db
def test_a_build_arriving_as_its_environment_is_deleted_is_skipped_not_an_error(root):
    from django.utils import timezone

    from pipelines.auto_deploys import _auto_deploy_to

    pipeline = load_pipeline_text(script_toml(root, *free_ports(2)), "shop.toml")
    passing(pipeline, "feature/going", "first")
    env = Environment.objects.get(name="feature-going")
    later, _ = record_build(
        pipeline, sha=fake_sha("later"), branch="feature/going", status="failed"
    )
    attach_artifact(later, store_artifact([b"later"]))
    later.refresh_from_db()
    Environment.every.filter(pk=env.pk).update(removed_at=timezone.now())  # deleted meanwhile

    assert _auto_deploy_to(env, later) is None
    assert env.releases.count() == 1
