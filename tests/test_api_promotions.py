"""POST /api/v1/pipelines/{p}/promotions and …/environments/{env}/lock (docs/api.md)."""

import pytest
from django.test import Client, TestCase

from pipelines import checklist, locks
from pipelines.models import Deployment, Lock, Promotion
from tests.live import bearer
from tests.promoting import env, finish_queued, item, sign_everything, uat_runs_a_new_build

pytestmark = pytest.mark.django_db

PROMOTIONS = "/api/v1/pipelines/webshop/promotions"
LOCK = "/api/v1/pipelines/webshop/environments/live/lock"
ROLES = ["lead", "developer", "sales", "support", "qa", "nobody"]


@pytest.fixture
def api_as(token_for):
    return lambda role: Client(headers=bearer(token_for(role)))


def post(client: Client, path: str, body: dict):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(path, body, content_type="application/json")


def error(response) -> dict:
    return response.json()["error"]


def test_a_lead_promotes_and_gets_the_deployment_of_the_same_artifact(pipeline, users, api_as):
    candidate = uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    response = post(
        api_as("lead"),
        PROMOTIONS,
        {"from": "uat", "to": "live", "digest": candidate.artifact.digest},
    )
    assert response.status_code == 202
    body = response.json()
    assert body["environment"] == "live" and body["version"] == "v1"
    assert body["digest"] == candidate.artifact.digest and body["sha"] == candidate.build.sha
    promotion = Promotion.objects.get()
    assert body["promotion"] == {
        "id": promotion.pk,
        "url": f"/promotions/{promotion.pk}/",
        "receipt_url": f"/api/v1/promotions/{promotion.pk}/receipt",
        "from": "uat",
        "to": "live",
        "digest": candidate.artifact.digest,
        "requested_by": "lead",
    }
    finish_queued(env(pipeline, "live"))
    assert env(pipeline, "live").current_release.artifact_id == candidate.artifact_id


def test_an_incomplete_checklist_is_a_409_listing_what_is_missing(pipeline, api_as):
    uat_runs_a_new_build(pipeline)
    response = post(api_as("lead"), PROMOTIONS, {"from": "uat", "to": "live"})
    assert response.status_code == 409
    assert error(response)["code"] == "checklist_incomplete"
    missing = error(response)["details"]["missing"]
    assert [(m["key"], m["reason"]) for m in missing] == [
        ("not-mid-demo", "not_signed"),
        ("not-serving-a-customer", "not_signed"),
        ("smoke-tested", "not_signed"),
    ]


def test_a_locked_target_is_a_423(pipeline, users, api_as):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    locks.lock(pipeline, env(pipeline, "live"), by=users["lead"], reason="Black Friday")
    response = post(api_as("lead"), PROMOTIONS, {"from": "uat", "to": "live"})
    assert response.status_code == 423
    assert error(response)["code"] == "environment_locked"
    assert error(response)["details"]["reason"] == "Black Friday"


def test_a_stale_pinned_digest_is_a_409_saying_what_changed(pipeline, users, api_as):
    seen = uat_runs_a_new_build(pipeline)
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    response = post(
        api_as("lead"), PROMOTIONS, {"from": "uat", "to": "live", "digest": seen.artifact.digest}
    )
    assert response.status_code == 409
    assert error(response)["code"] == "candidate_changed"
    assert "reload and check again" in error(response)["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": "uat"}, "to"),
        ({"from": "staging", "to": "live"}, "from"),
        ({"from": "dev", "to": "live"}, "from"),
        ({"from": "uat", "to": "live", "digest": "abc"}, "digest"),
        ({"from": "uat", "to": "live", "force": True}, "force"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(pipeline, api_as, body, field):
    response = post(api_as("lead"), PROMOTIONS, body)
    assert response.status_code == 422
    assert error(response)["details"]["field"] == field


@pytest.mark.parametrize("role", ROLES)
def test_only_a_lead_token_promotes(pipeline, users, api_as, role):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    response = post(api_as(role), PROMOTIONS, {"from": "uat", "to": "live"})
    assert response.status_code == (202 if role == "lead" else 403)
    assert Deployment.objects.filter(environment__name="live").count() == (role == "lead")


@pytest.mark.parametrize("role", ROLES)
def test_only_a_lead_token_locks_and_unlocks(pipeline, users, api_as, role):
    client = api_as(role)
    response = post(client, LOCK, {"reason": "demo"})
    assert response.status_code == (200 if role == "lead" else 403)
    if role == "lead":
        assert response.json()["lock"]["owner"] == "lead"
    else:
        locks.lock(pipeline, env(pipeline, "live"), by=users["lead"], reason="lead's")
    response = client.delete(LOCK)
    assert response.status_code == (200 if role == "lead" else 403)
    assert Lock.objects.count() == (role != "lead")


def test_without_a_token_nothing_happens(pipeline):
    assert post(Client(), PROMOTIONS, {"from": "uat", "to": "live"}).status_code == 401
    assert post(Client(), LOCK, {"reason": "x"}).status_code == 401
    assert not Lock.objects.exists()


def test_locking_twice_or_unlocking_an_unlocked_environment_is_a_409(pipeline, api_as):
    client = api_as("lead")
    assert post(client, LOCK, {"reason": "one"}).status_code == 200
    assert post(client, LOCK, {"reason": "two"}).status_code == 409
    assert client.delete(LOCK).status_code == 200
    assert client.delete(LOCK).status_code == 409
    assert client.delete("/api/v1/pipelines/webshop/environments/nope/lock").status_code == 404


def test_the_pipeline_shows_whether_each_item_counts_and_why_not(pipeline, users, api_as):
    uat_runs_a_new_build(pipeline)
    checklist.sign(item(pipeline, "smoke-tested"), by=users["qa"])
    envs = api_as("sales").get("/api/v1/pipelines/webshop").json()["environments"]
    state = {env["name"]: env["checklist_state"] for env in envs}
    assert state["uat"] is None
    assert state["live"]["complete"] is False
    assert [(i["key"], i["reason"], i["signed_by"]) for i in state["live"]["items"]] == [
        ("not-mid-demo", "not_signed", None),
        ("not-serving-a-customer", "not_signed", None),
        ("smoke-tested", None, "qa"),
    ]
