"""POST /api/v1/pipelines/{p}/builds: CI reports the build of a commit."""

import pytest
import requests
from django.test import Client

from pipelines.models import AuditEvent, Build
from tests.live import bearer

SHA = "3f786850e387550fdab836ed7e6dc881de23001b"
BUILD = {
    "sha": SHA,
    "status": "running",
    "branch": "feature/login",
    "message": "Log in with email\n\nDetails.",
    "author": "Ada",
    "url": "https://ci.example.com/runs/12",
}


@pytest.fixture
def post(slipway_server, token_for):
    token = token_for("developer")

    def send(body=None, *, pipeline="webshop", token=token, headers=None, **kwargs):
        return requests.post(
            f"{slipway_server.url}/api/v1/pipelines/{pipeline}/builds",
            json=body,
            headers={**(bearer(token) if token else {}), **(headers or {})},
            **kwargs,
        )

    return send


def test_it_creates_a_build_with_201(post, pipeline):
    response = post(BUILD)
    assert response.status_code == 201
    assert response.json()["sha"] == SHA and response.json()["tests"] is None
    build = Build.objects.get()
    assert (build.branch, build.status, build.author) == ("feature/login", "running", "Ada")
    assert AuditEvent.objects.filter(action="build_recorded").exists()


def test_it_updates_the_build_of_the_same_commit_with_200(post, pipeline):
    post(BUILD)
    response = post({"sha": SHA, "status": "passed", "tests": {"passed": 9.0}, "coverage": 88.5})
    assert response.status_code == 200
    assert response.json()["tests"] == {"passed": 9, "failed": 0, "skipped": 0}
    build = Build.objects.get()
    assert (build.status, build.tests_passed, float(build.coverage)) == ("passed", 9, 88.5)
    assert build.branch == "feature/login"  # left out: kept


def test_it_answers_400_to_malformed_json(post, pipeline):
    response = post(data=b'{"sha": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert "not valid JSON" in response.json()["error"]["message"]
    assert not Build.objects.exists()


def test_it_answers_401_without_a_token(post, pipeline):
    assert post(BUILD, token=None).status_code == 401
    assert not Build.objects.exists()


def test_it_answers_403_to_a_sales_token(post, pipeline, token_for):
    assert post(BUILD, token=token_for("sales")).status_code == 403
    assert not Build.objects.exists()


def test_it_answers_404_for_an_unknown_pipeline(post, pipeline):
    response = post(BUILD, pipeline="nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_answers_413_to_a_huge_body(post, pipeline):
    response = post({**BUILD, "message": "x" * 3_000_000})
    assert response.status_code == 413
    assert not Build.objects.exists()


def test_it_answers_422_naming_a_field_of_the_wrong_type(post, pipeline):
    response = post({**BUILD, "tests": {"passed": "nine"}})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "tests.passed"
    assert not Build.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({"status": "passed"}, "sha"),
        ({"sha": SHA}, "status"),
        ({**BUILD, "sha": "not-hex!"}, "sha"),
        ({**BUILD, "status": "great"}, "status"),
        ({**BUILD, "colour": "red"}, "colour"),
        ({**BUILD, "coverage": 101}, "coverage"),
        ({**BUILD, "coverage": "NaN"}, "coverage"),
        ({**BUILD, "tests": {"passed": 2**40}}, "tests.passed"),
        ({**BUILD, "tests": [1, 2]}, "tests"),
        ({**BUILD, "branch": 7}, "branch"),
        ({**BUILD, "url": "javascript:alert(1)"}, "url"),
        ({**BUILD, "author": "Ada\x00"}, "author"),
        ({**BUILD, "message": "\ud800"}, "message"),
    ],
)
def test_it_names_the_field_at_fault(pipeline, token_for, body, field):
    client = Client(headers=bearer(token_for("developer")))
    response = client.post("/api/v1/pipelines/webshop/builds", body, "application/json")
    assert response.status_code == 422, response.content
    assert response.json()["error"]["details"]["field"] == field
    assert not Build.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b"[]", b'"sha"', b"null", b"", b"\xff\xfe", b"[" * 100_000])
def test_it_answers_400_to_a_body_that_is_not_a_json_object(pipeline, token_for, body):
    client = Client(headers=bearer(token_for("developer")))
    response = client.post("/api/v1/pipelines/webshop/builds", body, "application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


@pytest.mark.django_db
def test_it_answers_405_to_other_methods(pipeline, token_for):
    client = Client(headers=bearer(token_for("developer")))
    response = client.get("/api/v1/pipelines/webshop/builds")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
