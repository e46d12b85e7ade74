"""Who may use the API: bearer tokens only, acting with their user's roles."""

import pytest
import requests
from django.test import Client

from pipelines.models import ApiToken, Build
from pipelines.tokens import create_token, revoke_token
from tests.live import bearer

pytestmark = pytest.mark.django_db

BUILD = {"sha": "a" * 40, "status": "passed", "branch": "master"}


def api(token: str | None = None, **kwargs) -> Client:
    headers = bearer(token) if token else {}
    return Client(headers=headers, **kwargs)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"] and isinstance(error["details"], dict)
    return error


def test_it_refuses_a_request_without_a_token(pipeline):
    response = api().get("/api/v1/pipelines/webshop")
    assert_error(response, 401, "unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_a_token_sent_any_other_way_than_bearer(pipeline, token_for):
    client = Client(headers={"Authorization": f"Token {token_for('developer')}"})
    assert_error(client.get("/api/v1/pipelines/webshop"), 401, "unauthorized")


def test_it_refuses_a_token_it_does_not_know(pipeline):
    assert_error(api("slw_nonsense").get("/api/v1/pipelines/webshop"), 401, "unauthorized")


def test_it_refuses_a_token_that_was_revoked(pipeline, users):
    token, raw = create_token(users["developer"])
    revoke_token(token)
    response = api(raw).post("/api/v1/pipelines/webshop/builds", BUILD, "application/json")
    error = assert_error(response, 401, "unauthorized")
    assert "revoked" in error["message"]
    assert not Build.objects.exists()


def test_it_refuses_a_user_without_a_role(pipeline, token_for):
    assert_error(api(token_for("nobody")).get("/api/v1/pipelines"), 403, "forbidden")


@pytest.mark.parametrize("role", ["lead", "developer", "sales", "support", "qa"])
def test_every_role_may_read(pipeline, token_for, role):
    assert api(token_for(role)).get("/api/v1/pipelines/webshop").status_code == 200


@pytest.mark.parametrize("role", ["sales", "support", "qa"])
def test_only_leads_and_developers_may_report_builds(pipeline, token_for, role):
    response = api(token_for(role)).post(
        "/api/v1/pipelines/webshop/builds", BUILD, "application/json"
    )
    assert_error(response, 403, "forbidden")
    assert not Build.objects.exists()


@pytest.mark.parametrize("role", ["lead", "developer"])
def test_leads_and_developers_report_builds_without_csrf_tokens(pipeline, token_for, role):
    client = api(token_for(role), enforce_csrf_checks=True)
    response = client.post("/api/v1/pipelines/webshop/builds", BUILD, "application/json")
    assert response.status_code == 201
    assert Build.objects.get().sha == BUILD["sha"]


def test_a_browser_session_is_not_enough(pipeline, client_for):
    response = client_for("lead").get("/api/v1/pipelines/webshop")
    assert_error(response, 401, "unauthorized")


def test_using_a_token_records_when(pipeline, token_for):
    raw = token_for("developer")
    api(raw).get("/api/v1/pipelines")
    assert ApiToken.objects.get().last_used_at is not None


def test_it_answers_401_through_http(slipway_server, pipeline):
    response = requests.get(f"{slipway_server.url}/api/v1/pipelines/webshop")
    assert_error(response, 401, "unauthorized")
