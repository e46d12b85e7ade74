"""Pinned rollbacks: after a rollback, the next passing build does not deploy over it; the
builds that arrive wait in a visible list until a lead unpins (page, API, `slipway unpin`)."""

import pytest
from django.test import Client, TestCase

from pipelines import auto_deploys, deploys, pins
from pipelines.errors import Conflict, PermissionDenied
from pipelines.models import AuditEvent, Deployment, Environment
from tests.deploying import artifact_build
from tests.factories import passing_build
from tests.live import bearer
from tests.promoting import env, finish_queued
from tests.test_cli import slipway

pytestmark = pytest.mark.django_db

BOARD = "/pipelines/webshop/"
PIN_API = "/api/v1/pipelines/webshop/environments/uat/pin"


def uat_serves(pipeline, build) -> None:
    uat = env(pipeline, "uat")
    finish_queued(uat)
    uat.refresh_from_db()
    assert uat.current_release.build == build


@pytest.fixture
def rolled_back(pipeline, users):
    """uat ran v1 (good), then v2 (bad); the lead rolled back to v1 (as v3): uat is pinned."""
    good = passing_build(pipeline, "master")
    uat_serves(pipeline, good)
    bad = passing_build(pipeline, "master")
    uat_serves(pipeline, bad)
    with TestCase.captureOnCommitCallbacks(execute=True):
        deploys.rollback(env(pipeline, "uat"), "v1", by=users["lead"])
    uat_serves(pipeline, good)
    return pipeline


def test_a_rollback_pins_the_environment_saying_who_and_why(rolled_back, users, client_for):
    uat = env(rolled_back, "uat")
    assert uat.pinned_by == users["lead"] and uat.pinned_at is not None
    assert uat.pin_reason == "rolled back to v1"
    assert AuditEvent.objects.filter(action="pinned", actor=users["lead"]).exists()
    html = client_for("developer").get(BOARD).content.decode()
    assert 'data-field="pin"' in html
    assert 'Pinned by lead: <q class="typed">rolled back to v1</q>' in html  # as typed


def test_the_next_passing_build_waits_in_a_visible_list_instead_of_deploying(
    rolled_back, client_for
):
    uat = env(rolled_back, "uat")
    serving = uat.current_release
    first = passing_build(rolled_back, "master")
    second = passing_build(rolled_back, "master")
    passing_build(rolled_back, "dev")  # another branch: not uat's business
    uat.refresh_from_db()
    assert uat.current_release == serving
    assert not Deployment.objects.filter(environment=uat, status__in=["queued", "running"]).exists()
    held = [b.sha for b in pins.held_builds(uat)]
    assert held == [second.sha, first.sha]
    html = client_for("qa").get(BOARD).content.decode()
    assert 'data-field="held"' in html
    assert second.short_sha in html and first.short_sha in html
    assert AuditEvent.objects.filter(action="auto_deploy_held", data__sha=first.sha).exists()


@pytest.mark.parametrize(
    ("glob", "held_branches"),
    [
        ("release/*", ["release/2.0", "release/1.9"]),
        ("release/1.?", ["release/1.9"]),
        ("[rh]*", ["release/2.0", "hotfixA1", "releases-2", "hotfix_1", "release/1.9"]),
        ("hotfix_*", ["hotfix_1"]),
        ("hotfix_1", ["hotfix_1"]),
    ],
)
def test_a_pinned_environment_holds_the_builds_its_branch_glob_matches(
    pipeline, users, glob, held_branches
):
    uat = env(pipeline, "uat")
    Environment.objects.filter(pk=uat.pk).update(branch=glob)
    pins.pin(uat, by=users["lead"], reason="v2 broke checkout")
    for branch in ("release/1.9", "hotfix_1", "releases-2", "hotfixA1", "release/2.0"):
        artifact_build(pipeline, branch.encode(), branch=branch)
    uat.refresh_from_db()
    assert [b.branch for b in pins.held_builds(uat)] == held_branches


def test_a_lead_unpins_on_the_board_and_the_newest_waiting_build_deploys(
    rolled_back, users, client_for
):
    passing_build(rolled_back, "master")
    newest = passing_build(rolled_back, "master")
    html = client_for("lead").get(BOARD).content.decode()
    assert 'data-action="unpin"' in html
    assert 'data-action="unpin"' not in client_for("developer").get(BOARD).content.decode()
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client_for("lead").post("/pipelines/webshop/environments/uat/unpin")
    assert response.status_code == 200
    uat_serves(rolled_back, newest)
    uat = env(rolled_back, "uat")
    assert uat.pinned_at is None and uat.pin_reason == ""
    assert AuditEvent.objects.filter(action="unpinned", actor=users["lead"]).exists()
    after = passing_build(rolled_back, "master")  # unpinned: auto-deploy goes on again
    uat_serves(rolled_back, after)


@pytest.mark.parametrize("role", ["developer", "sales", "support", "qa"])
def test_only_a_lead_unpins(rolled_back, users, client_for, role):
    with pytest.raises(PermissionDenied):
        auto_deploys.unpin(env(rolled_back, "uat"), by=users[role])
    response = client_for(role).post("/pipelines/webshop/environments/uat/unpin")
    assert b"lead role" in response.content
    assert env(rolled_back, "uat").pinned_at is not None


def test_unpinning_an_environment_that_is_not_pinned_says_so(pipeline, users):
    with pytest.raises(Conflict, match="is not pinned"):
        auto_deploys.unpin(env(pipeline, "uat"), by=users["lead"])


def test_a_lead_unpins_over_the_api(rolled_back, token_for):
    waiting = passing_build(rolled_back, "master")
    api = Client(headers=bearer(token_for("developer")))
    status = api.get("/api/v1/pipelines/webshop").json()
    uat = next(e for e in status["environments"] if e["name"] == "uat")
    assert uat["pin"]["by"] == "lead" and uat["pin"]["reason"] == "rolled back to v1"
    assert [b["sha"] for b in uat["pin"]["waiting"]] == [waiting.sha]
    assert api.delete(PIN_API).status_code == 403
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = Client(headers=bearer(token_for("lead"))).delete(PIN_API)
    assert response.status_code == 200
    answer = response.json()
    assert answer["pin"] is None
    assert answer["deployment"]["release"]["sha"] == waiting.sha
    uat_serves(rolled_back, waiting)
    again = Client(headers=bearer(token_for("lead"))).delete(PIN_API)
    assert again.status_code == 409


def test_a_pinned_environment_still_takes_a_leads_manual_deploy(rolled_back, users):
    build = passing_build(rolled_back, "feature/x")
    with TestCase.captureOnCommitCallbacks(execute=True):
        deploys.deploy_build(env(rolled_back, "uat"), build, by=users["lead"])
    uat_serves(rolled_back, build)
    assert env(rolled_back, "uat").pinned_at is not None  # still pinned: auto-deploys wait


def test_a_build_that_waited_for_a_running_deployment_is_held_when_that_was_a_rollback(
    pipeline, users
):
    good = passing_build(pipeline, "master")
    uat_serves(pipeline, good)
    passing_build(pipeline, "master")
    uat_serves(pipeline, Environment.objects.get(name="uat").current_release.build)
    deploys.rollback(env(pipeline, "uat"), "v1", by=users["lead"])  # queued, not run yet
    waiting = passing_build(pipeline, "master")  # waits for the rollback…
    finish_queued(env(pipeline, "uat"))
    with TestCase.captureOnCommitCallbacks(execute=True):
        auto_deploys.deploy_waiting_build(env(pipeline, "uat").pk)
    uat = env(pipeline, "uat")
    assert uat.current_release.build == good  # …and is held, not deployed over it
    assert [b.sha for b in pins.held_builds(uat)] == [waiting.sha]


def test_slipway_unpin(rolled_back, slipway_server, token_for):
    result = slipway(
        "unpin",
        "uat",
        env={"SLIPWAY_URL": slipway_server.url, "SLIPWAY_TOKEN": token_for("lead")},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "uat unpinned: auto-deploy goes on (nothing was waiting)"
    assert env(rolled_back, "uat").pinned_at is None
