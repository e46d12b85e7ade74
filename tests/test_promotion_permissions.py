"""Who may do what from the board, checked on the server: a forged post changes nothing."""

import pytest
from django.test import Client, TestCase

from pipelines import checklist
from pipelines.deploys import deploy_build
from pipelines.models import Deployment, Lock, Signoff
from tests.factories import passing_build
from tests.live import bearer
from tests.promoting import env, item, sign_everything, uat_runs_a_new_build

pytestmark = pytest.mark.django_db

ROLES = ["lead", "developer", "sales", "support", "qa", "nobody", "anonymous"]
ITEM_OF_ROLE = {"sales": "not-mid-demo", "support": "not-serving-a-customer", "qa": "smoke-tested"}
LIVE = "/pipelines/webshop/environments/live"


@pytest.fixture
def as_role(client_for):
    def login(role: str) -> Client:
        return Client() if role == "anonymous" else client_for(role)

    return login


def refusal(role: str) -> int:
    """Anonymous users are sent to the login page; signed-in ones get 403."""
    return 302 if role == "anonymous" else 403


def post(client: Client, path: str, data: dict | None = None):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(path, data or {}, headers={"HX-Request": "true"})


@pytest.mark.parametrize("role", ROLES)
def test_each_role_signs_its_own_item_and_no_other(pipeline, as_role, role):
    uat_runs_a_new_build(pipeline)
    client = as_role(role)
    for item_role, key in ITEM_OF_ROLE.items():
        response = post(client, f"{LIVE}/checklist/{key}/sign")
        assert response.status_code == (200 if role == item_role else refusal(role)), key
    signed = set(Signoff.objects.values_list("item__key", flat=True))
    assert signed == ({ITEM_OF_ROLE[role]} if role in ITEM_OF_ROLE else set())


@pytest.mark.parametrize("role", ROLES)
def test_only_the_items_role_revokes_a_sign_off(pipeline, users, as_role, role):
    uat_runs_a_new_build(pipeline)
    signoff = checklist.sign(item(pipeline, "smoke-tested"), by=users["qa"])
    response = post(as_role(role), f"{LIVE}/signoffs/{signoff.pk}/revoke")
    assert response.status_code == (200 if role == "qa" else refusal(role))
    signoff.refresh_from_db()
    assert (signoff.revoked_at is not None) == (role == "qa")


@pytest.mark.parametrize("role", ROLES)
def test_only_a_lead_promotes(pipeline, users, as_role, role):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    response = post(as_role(role), f"{LIVE}/promote")
    assert response.status_code == (200 if role == "lead" else refusal(role))
    assert Deployment.objects.filter(environment__name="live").count() == (role == "lead")


@pytest.mark.parametrize("role", ROLES)
def test_only_a_lead_locks_and_unlocks(pipeline, users, as_role, role):
    client = as_role(role)
    response = post(client, f"{LIVE}/lock", {"reason": "demo"})
    assert response.status_code == (200 if role == "lead" else refusal(role))
    assert Lock.objects.count() == (role == "lead")

    if role != "lead":
        post(as_role("lead"), f"{LIVE}/lock", {"reason": "lead's"})
    response = post(client, f"{LIVE}/unlock")
    assert response.status_code == (200 if role == "lead" else refusal(role))
    assert Lock.objects.count() == (role != "lead")


def test_the_actions_accept_only_post(pipeline, client_for):
    client = client_for("lead")
    assert client.get(f"{LIVE}/promote").status_code == 405
    assert client.get(f"{LIVE}/lock").status_code == 405


def test_an_unknown_item_or_environment_is_a_404(pipeline, client_for):
    assert post(client_for("qa"), f"{LIVE}/checklist/nope/sign").status_code == 404
    assert (
        post(client_for("lead"), "/pipelines/webshop/environments/nope/promote").status_code == 404
    )


def test_promoting_an_environment_without_upstream_says_so(pipeline, client_for):
    response = post(client_for("lead"), "/pipelines/webshop/environments/uat/promote")
    assert response.status_code == 400
    assert b"uat is not promoted from anywhere" in response.content
    assert not Deployment.objects.exists()
    assert env(pipeline, "uat").current_release is None


@pytest.mark.parametrize("role", ROLES)
def test_only_a_lead_freezes_the_whole_pipeline(pipeline, as_role, role):
    response = post(as_role(role), "/pipelines/webshop/freeze", {"reason": "code freeze"})
    assert response.status_code == (204 if role == "lead" else refusal(role))
    assert Lock.objects.filter(environment=None).count() == (role == "lead")
    if role == "lead":
        assert response["HX-Refresh"] == "true"
        assert post(as_role(role), "/pipelines/webshop/unfreeze").status_code == 204
        assert not Lock.objects.exists()


def test_only_leads_see_the_lock_and_freeze_buttons(pipeline, client_for):
    lead = client_for("lead").get("/pipelines/webshop/").content.decode()
    assert 'data-action="lock"' in lead and 'data-action="freeze"' in lead
    qa = client_for("qa").get("/pipelines/webshop/").content.decode()
    assert 'data-action="lock"' not in qa and 'data-action="freeze"' not in qa


def test_a_refused_lock_answers_with_the_card_saying_why(pipeline, client_for):
    response = post(client_for("lead"), f"{LIVE}/lock", {"reason": ""})
    assert response.status_code == 422
    assert b'data-env="live"' in response.content
    assert b"a reason is required" in response.content


# Deploy and roll back (issue 4's views and API), for the same roles.

DEPLOYERS = {"dev": {"lead", "developer"}, "live": {"lead"}}


@pytest.fixture
def api_as(token_for):
    def client(role: str) -> Client:
        return Client(headers=bearer(token_for(role))) if role != "anonymous" else Client()

    return client


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("where", ["dev", "live"])
def test_deploying_takes_a_developer_or_on_a_guarded_environment_a_lead(
    pipeline, as_role, api_as, role, where
):
    build = passing_build(pipeline, "feature/x")
    allowed = role in DEPLOYERS[where]
    body = {"sha": build.sha, "reason": "hotfix"}  # a lead's deploy to live is break-glass
    page = post(as_role(role), f"/pipelines/webshop/environments/{where}/deploy", body)
    assert page.status_code == (204 if allowed else refusal(role))
    api = api_as(role).post(
        f"/api/v1/pipelines/webshop/environments/{where}/deployments",
        body,
        content_type="application/json",
    )
    # The second request meets the first deployment, still queued (the test runs no runner).
    assert api.status_code == (202 if allowed else 401 if role == "anonymous" else 403)
    assert Deployment.objects.filter(environment__name=where).count() == (2 if allowed else 0)


@pytest.mark.parametrize("role", ROLES)
def test_only_a_lead_rolls_back(pipeline, as_role, api_as, role):
    uat_runs_a_new_build(pipeline)
    uat_runs_a_new_build(pipeline)
    uat = env(pipeline, "uat")
    page = post(as_role(role), "/pipelines/webshop/environments/uat/rollback", {"release": "v1"})
    assert page.status_code == (204 if role == "lead" else refusal(role))
    if role != "lead":
        api = api_as(role).post(
            "/api/v1/pipelines/webshop/environments/uat/deployments",
            {"release": "v1"},
            content_type="application/json",
        )
        assert api.status_code == (401 if role == "anonymous" else 403)
    assert uat.releases.count() == (3 if role == "lead" else 2)


def test_a_checklist_whose_items_were_all_retired_no_longer_guards_deploys(pipeline, users):

    env(pipeline, "live").checklist_items.update(retired_at="2026-01-01T00:00:00Z")
    build = passing_build(pipeline, "feature/x")
    assert deploy_build(env(pipeline, "live"), build, by=users["developer"]).pk
