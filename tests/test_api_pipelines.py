"""GET /api/v1/pipelines and /api/v1/pipelines/{p}: what runs where."""

import pytest
import requests
from django.test import Client

from pipelines import pins
from pipelines.api.representations import pipeline_json
from pipelines.board import environment_cards
from pipelines.deploys import request_deployment
from pipelines.models import ChecklistItem, Environment, Lock
from tests.factories import passing_build
from tests.history import add_history
from tests.live import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(token_for) -> Client:
    return Client(headers=bearer(token_for("qa")))


def environments(api: Client) -> dict[str, dict]:
    response = api.get("/api/v1/pipelines/webshop")
    assert response.status_code == 200
    return {env["name"]: env for env in response.json()["environments"]}


def test_it_lists_the_pipelines(api, pipeline):
    response = api.get("/api/v1/pipelines")
    assert response.status_code == 200
    assert response.json() == {
        "pipelines": [{"name": "webshop", "repository_url": "https://github.com/acme/webshop"}]
    }


def test_it_shows_each_environment_in_order_with_its_checklist(api, pipeline):
    envs = environments(api)
    assert list(envs) == ["dev", "uat", "live"]
    assert envs["live"]["promote_from"] == "uat"
    assert [item["key"] for item in envs["live"]["checklist"]] == [
        "not-mid-demo",
        "not-serving-a-customer",
        "smoke-tested",
    ]
    assert envs["live"]["checklist"][0] == {
        "key": "not-mid-demo",
        "label": "Sales: not mid-demo",
        "role": "sales",
        "valid_for": 1800.0,
    }
    assert envs["dev"]["release"] is None and envs["dev"]["lock"] is None


def test_it_shows_the_current_release_with_its_build(
    api, pipeline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        build = passing_build(pipeline, branch="master", tests={"passed": 5, "failed": 0})
    release = environments(api)["uat"]["release"]
    assert release["version"] == "v1"
    assert release["sha"] == build.sha
    assert release["digest"] == build.artifact.digest
    assert release["deployed_at"] is not None
    assert release["build"]["status"] == "passed"
    assert release["build"]["tests"] == {"passed": 5, "failed": 0, "skipped": 0}
    assert release["build"]["coverage"] == 91.5
    assert environments(api)["live"]["candidate"]["sha"] == build.sha


def test_it_shows_a_running_deployment_and_a_lock(api, pipeline, users):
    build = passing_build(pipeline, branch="feature/x")
    uat = Environment.objects.get(name="uat")
    request_deployment(uat, build, cause="manual")  # on_commit never runs: stays queued
    Lock.objects.create(pipeline=pipeline, environment=uat, owner=users["lead"], reason="demo")
    env = environments(api)["uat"]
    assert env["deployment"]["status"] == "queued"
    assert env["deployment"]["sha"] == build.sha
    assert env["lock"]["owner"] == "lead" and env["lock"]["reason"] == "demo"
    assert env["lock"]["scope"] == "environment"


def test_the_number_of_queries_does_not_grow_with_the_pipeline(
    api, pipeline, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        passing_build(pipeline, branch="master")
    with django_assert_max_num_queries(20) as few:
        api.get("/api/v1/pipelines/webshop")
    live = Environment.objects.get(name="live")
    for n in range(5):
        extra = Environment.objects.create(pipeline=pipeline, name=f"dev-{n}", branch="master")
        ChecklistItem.objects.create(environment=extra, key=f"k{n}", label="x", role="qa")
    ChecklistItem.objects.create(environment=live, key="more", label="x", role="qa")
    with django_capture_on_commit_callbacks(execute=True):
        passing_build(pipeline, branch="master")
    with django_assert_max_num_queries(len(few.captured_queries)):
        api.get("/api/v1/pipelines/webshop")


def test_the_api_says_what_the_boards_cards_say_without_their_insight(api, pipeline, users):
    """The API reads the cards without builds ahead, quality diffs and trends (the board's
    insight): none of its JSON may come from there."""
    add_history(pipeline, builds=40, deployments=12, actor=users["lead"])
    uat, live = Environment.objects.get(name="uat"), Environment.objects.get(name="live")
    pins.pin(uat, by=users["lead"], reason="v2 broke checkout")
    passing_build(pipeline, branch="master")  # waits: uat is pinned
    request_deployment(live, uat.current_release.build, cause="manual")  # stays queued
    Lock.objects.create(pipeline=pipeline, owner=users["lead"], reason="Black Friday")
    answered = api.get("/api/v1/pipelines/webshop").json()
    assert answered == pipeline_json(pipeline, environment_cards(pipeline, insight=True))
    envs = {env["name"]: env for env in answered["environments"]}
    assert envs["uat"]["pin"]["reason"] == "v2 broke checkout" and envs["uat"]["pin"]["waiting"]
    assert envs["live"]["deployment"]["status"] == "queued"
    assert envs["live"]["candidate"]["sha"] == envs["uat"]["release"]["sha"]


def test_it_answers_404_for_an_unknown_pipeline(api, pipeline):
    response = api.get("/api/v1/pipelines/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/api/v1/nothing/here", "/api/v1/pipelines/a%0Ab/lock"])
def test_unknown_api_paths_answer_json_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_answers_through_http(slipway_server, pipeline, token_for):
    response = requests.get(
        f"{slipway_server.url}/api/v1/pipelines/webshop", headers=bearer(token_for("sales"))
    )
    assert response.status_code == 200
    assert [env["name"] for env in response.json()["environments"]] == ["dev", "uat", "live"]
