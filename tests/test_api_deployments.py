"""POST /api/v1/pipelines/{p}/environments/{env}/deployments and GET /api/v1/deployments/{id}."""

import pytest
from django.test import Client

from pipelines.deploys import request_deployment
from pipelines.models import Deployment
from pipelines.runner.run import run_deployment
from tests.deploying import artifact_build
from tests.live import bearer

pytestmark = pytest.mark.django_db

DEV = "/api/v1/pipelines/webshop/environments/dev/deployments"
LIVE = "/api/v1/pipelines/webshop/environments/live/deployments"


@pytest.fixture
def api_as(token_for):
    return lambda role: Client(headers=bearer(token_for(role)))


def post(client: Client, path: str, body) -> dict:
    return client.post(path, body, content_type="application/json")


def error(response) -> dict:
    return response.json()["error"]


def test_a_developer_deploys_a_build_by_sha(pipeline, api_as):
    build = artifact_build(pipeline, b"one")

    response = post(api_as("developer"), DEV, {"sha": build.short_sha})

    assert response.status_code == 202
    body = response.json()
    deployment = Deployment.objects.get()
    assert body["id"] == deployment.pk
    assert body["status"] == "queued"
    assert body["environment"] == "dev"
    assert body["release"]["version"] == "v1"
    assert body["release"]["sha"] == build.sha
    assert body["release"]["digest"] == build.artifact.digest
    assert body["requested_by"] == "developer"


def test_the_deployment_reads_back_with_its_steps(pipeline, api_as, tmp_path):
    dev = pipeline.environments.get(name="dev")
    dev.driver, dev.driver_settings = "script", {"deploy_command": "echo hi"}
    dev.save()
    deployment = request_deployment(dev, artifact_build(pipeline, b"one"), cause="manual")
    run_deployment(deployment.pk)

    response = api_as("sales").get(f"/api/v1/deployments/{deployment.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "succeeded"
    assert [(s["name"], s["status"]) for s in body["steps"]] == [("release", "succeeded")]
    assert body["steps"][0]["started_at"] and body["steps"][0]["finished_at"]
    assert body["release"]["deployed_at"]
    assert body["last_seq"] >= 3


def test_a_second_deploy_while_one_runs_is_409_naming_it(pipeline, api_as):
    build = artifact_build(pipeline, b"one")
    running = request_deployment(pipeline.environments.get(name="dev"), build, cause="manual")

    response = post(api_as("developer"), DEV, {"sha": build.sha})

    assert response.status_code == 409
    assert error(response)["code"] == "deployment_running"
    assert f"Deployment #{running.pk} of dev is still queued" in error(response)["message"]
    assert error(response)["details"] == {"deployment": running.pk}


def test_a_lead_rolls_back_by_release(pipeline, users, api_as):
    dev = pipeline.environments.get(name="dev")
    first = artifact_build(pipeline, b"one")
    for build in (first, artifact_build(pipeline, b"two")):
        run_deployment(request_deployment(dev, build, cause="manual").pk)

    response = post(api_as("lead"), DEV, {"release": "v1"})

    assert response.status_code == 202
    assert response.json()["release"] | {"deployed_at": None} == {
        "version": "v3",
        "sha": first.sha,
        "digest": first.artifact.digest,
        "cause": "rollback",
        "description": "rollback to v1",
        "deployed_at": None,
    }


@pytest.mark.parametrize(
    ("role", "path", "body_of", "status"),
    [
        ("developer", LIVE, lambda b: {"sha": b.sha}, 403),  # live has a checklist
        ("sales", DEV, lambda b: {"sha": b.sha}, 403),
        ("developer", DEV, lambda b: {"release": "v1"}, 403),  # rollback is for leads
        ("developer", DEV, lambda b: {}, 422),
        ("developer", DEV, lambda b: {"sha": b.sha, "release": "v1"}, 422),
        ("developer", DEV, lambda b: {"sha": "0000000"}, 422),
        ("developer", DEV, lambda b: {"sha": 12}, 422),
        ("developer", DEV, lambda b: {"sha": b.sha, "force": True}, 422),
        ("lead", DEV, lambda b: {"release": "v9"}, 404),
        ("lead", DEV, lambda b: {"release": "latest"}, 422),
        ("lead", DEV, lambda b: {"release": "v²"}, 422),  # "²" is a digit to str.isdigit()
        ("lead", DEV, lambda b: {"release": 10**30}, 422),
        (
            "developer",
            "/api/v1/pipelines/webshop/environments/nope/deployments",
            lambda b: {"sha": b.sha},
            404,
        ),
    ],
)
def test_refusals_change_nothing_and_say_why(pipeline, api_as, role, path, body_of, status):
    build = artifact_build(pipeline, b"one")

    response = post(api_as(role), path, body_of(build))

    assert response.status_code == status
    assert error(response)["message"]
    assert not Deployment.objects.exists()


def test_bad_json_is_a_400_and_unknown_deployments_404(pipeline, api_as):
    client = api_as("developer")
    assert client.post(DEV, "{", content_type="application/json").status_code == 400
    assert client.get("/api/v1/deployments/999").status_code == 404
    assert Client().get("/api/v1/deployments/1").status_code == 401
