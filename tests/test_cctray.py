"""The cctray feed (/cc.xml, /pipelines/{p}/cc.xml): the format's attributes and values, who
may read it, and a real cctray client (BuildNotify's feed reader) reading it over HTTP Basic."""

import base64
from datetime import datetime
from xml.etree import ElementTree

import pytest
from buildnotifylib.adapters.http import HttpConnection
from buildnotifylib.core.model import Activity, Status
from buildnotifylib.core.projects import ProjectLoader
from buildnotifylib.core.settings import ServerSettings
from django.test import Client
from django.utils import timezone

from pipelines.deploys import request_deployment
from pipelines.models import Deployment, DeploymentStatus, Pipeline, ReleaseCause
from tests.factories import passing_build

# The cctray format (https://cctray.org/v1/): the attributes of <Project> and their values.
REQUIRED = {"name", "activity", "lastBuildStatus", "lastBuildTime", "webUrl"}
OPTIONAL = {"lastBuildLabel", "nextBuildTime"}
ACTIVITIES = {"Sleeping", "Building", "CheckingModifications"}
BUILD_STATUSES = {"Success", "Failure", "Exception", "Unknown"}


def basic(username: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def projects(response) -> dict[str, dict[str, str]]:
    """The feed's projects by name, checked against the format on the way."""
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml; charset=utf-8"
    root = ElementTree.fromstring(response.content)
    assert root.tag == "Projects"
    found = {}
    for project in root:
        assert project.tag == "Project" and len(project) == 0
        attributes = project.attrib
        assert REQUIRED <= set(attributes) <= REQUIRED | OPTIONAL, attributes
        assert attributes["activity"] in ACTIVITIES
        assert attributes["lastBuildStatus"] in BUILD_STATUSES
        assert datetime.fromisoformat(attributes["lastBuildTime"]).tzinfo is not None
        assert attributes["webUrl"].startswith("http://")
        found[attributes["name"]] = attributes
    return found


def end_last_deployment(status: str) -> None:
    latest = Deployment.objects.latest("created_at")
    Deployment.objects.filter(pk=latest.pk).update(status=status, finished_at=timezone.now())


@pytest.mark.django_db
def test_each_environment_is_a_project_named_pipeline_slash_environment(pipeline, client_for):
    found = projects(client_for("qa").get("/cc.xml"))
    assert list(found) == ["webshop/dev", "webshop/uat", "webshop/live"]
    assert found["webshop/uat"] == {
        "name": "webshop/uat",
        "activity": "Sleeping",
        "lastBuildStatus": "Unknown",
        "lastBuildTime": pipeline.created_at.isoformat(),
        "webUrl": "http://testserver/pipelines/webshop/environments/uat/",
    }


@pytest.mark.django_db
def test_a_succeeded_deployment_is_a_success_labelled_with_release_and_sha(pipeline, client_for):
    build = passing_build(pipeline, branch="master")
    deployment = Deployment.objects.get(environment__name="uat")
    uat = projects(client_for("qa").get("/pipelines/webshop/cc.xml"))["webshop/uat"]
    assert uat["lastBuildStatus"] == "Success"
    assert uat["activity"] == "Sleeping"
    assert uat["lastBuildLabel"] == f"v1 {build.sha[:7]}"
    assert datetime.fromisoformat(uat["lastBuildTime"]) == deployment.finished_at


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "expected"),
    [(DeploymentStatus.FAILED, "Failure"), (DeploymentStatus.INTERRUPTED, "Exception")],
)
def test_a_failed_or_interrupted_deployment_is_a_failure_or_an_exception(
    pipeline, client_for, status, expected
):
    passing_build(pipeline, branch="master")
    broken = passing_build(pipeline, branch="topic")
    request_deployment(pipeline.environments.get(name="uat"), broken, cause=ReleaseCause.MANUAL)
    end_last_deployment(status)
    uat = projects(client_for("qa").get("/cc.xml"))["webshop/uat"]
    assert uat["lastBuildStatus"] == expected
    assert uat["lastBuildLabel"] == f"v2 {broken.sha[:7]}"


@pytest.mark.django_db
def test_a_running_deployment_is_building_and_keeps_the_last_outcome(pipeline, client_for):
    first = passing_build(pipeline, branch="master")
    request_deployment(
        pipeline.environments.get(name="uat"),
        passing_build(pipeline, branch="topic"),
        cause=ReleaseCause.MANUAL,
    )
    uat = projects(client_for("qa").get("/cc.xml"))["webshop/uat"]
    assert uat["activity"] == "Building"
    assert uat["lastBuildStatus"] == "Success"
    assert uat["lastBuildLabel"] == f"v1 {first.sha[:7]}"


@pytest.mark.django_db
def test_http_basic_takes_the_username_and_an_api_token(pipeline, token_for):
    token = token_for("support")
    assert len(projects(Client().get("/cc.xml", headers=basic("support", token)))) == 3
    wrong_user = Client().get("/cc.xml", headers=basic("qa", token))
    assert wrong_user.status_code == 401
    assert Client().get("/cc.xml", headers=basic("support", "slw_nope")).status_code == 401
    garbled = Client().get("/cc.xml", headers={"Authorization": "Basic %%%"})
    assert garbled.status_code == 401


@pytest.mark.django_db
def test_without_credentials_it_asks_for_basic_auth(pipeline):
    for url in ("/cc.xml", "/pipelines/webshop/cc.xml", "/pipelines/nope/cc.xml"):
        response = Client().get(url)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Basic realm=")


@pytest.mark.django_db
def test_without_credentials_it_lists_only_pipelines_with_public_badges(pipeline, db):
    from pipelines.config import load_pipeline_text

    load_pipeline_text(
        '[pipeline]\nname = "blog"\npublic_badges = true\n[[environments]]\nname = "live"\n',
        source="blog.toml",
    )
    assert list(projects(Client().get("/cc.xml"))) == ["blog/live"]
    assert Client().get("/pipelines/webshop/cc.xml").status_code == 401


@pytest.mark.django_db
def test_a_user_without_a_role_is_refused_and_an_unknown_pipeline_is_404(
    pipeline, token_for, client_for
):
    assert Client().get("/cc.xml", headers=basic("nobody", token_for("nobody"))).status_code == 403
    assert client_for("qa").get("/pipelines/nope/cc.xml").status_code == 404


def test_a_real_cctray_client_reads_the_feed_with_basic_auth(slipway_server, pipeline, token_for):
    build = passing_build(pipeline, branch="master")
    Pipeline.objects.filter(pk=pipeline.pk).update(public_badges=False)
    server = ServerSettings(
        url=f"{slipway_server.url}/cc.xml", username="developer", password=token_for("developer")
    )
    snapshot = ProjectLoader(server, timeout=10, connection=HttpConnection()).get_data()
    assert snapshot.error is None, snapshot.error
    by_name = {project.name: project for project in snapshot.projects}
    assert list(by_name) == ["webshop/dev", "webshop/uat", "webshop/live"]
    uat = by_name["webshop/uat"]
    assert uat.status is Status.SUCCESS and uat.activity is Activity.SLEEPING
    assert uat.last_build_label == f"v1 {build.sha[:7]}"
    assert uat.build_time == Deployment.objects.get(environment__name="uat").finished_at
    assert uat.url == f"{slipway_server.url}/pipelines/webshop/environments/uat/"
    assert by_name["webshop/live"].status is Status.UNKNOWN

    wrong = ServerSettings(url=server.url, username="developer", password="slw_wrong")
    refused = ProjectLoader(wrong, timeout=10, connection=HttpConnection()).get_data()
    assert "401" in str(refused.error)
