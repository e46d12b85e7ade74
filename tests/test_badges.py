"""Status badges: badge.svg and badge.json (shields endpoint schema), who may read them,
and their caching headers."""

import re
from xml.etree import ElementTree

import pytest
from django.test import Client
from django.utils import timezone

from pipelines.deploys import request_deployment
from pipelines.models import Deployment, DeploymentStatus, Pipeline, ReleaseCause
from tests.factories import passing_build

pytestmark = pytest.mark.django_db

SVG = "/pipelines/webshop/environments/uat/badge.svg"
JSON = "/pipelines/webshop/environments/uat/badge.json"


@pytest.fixture
def public(pipeline) -> Pipeline:
    Pipeline.objects.filter(pk=pipeline.pk).update(public_badges=True)
    return pipeline


def svg_of(response) -> ElementTree.Element:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    return ElementTree.fromstring(response.content)


def texts(svg: ElementTree.Element) -> list[str]:
    return [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]


def fills(svg: ElementTree.Element) -> list[str]:
    return [r.get("fill") for r in svg.iter("{http://www.w3.org/2000/svg}rect")]


def end_last_deployment(status: str) -> None:
    Deployment.objects.filter(pk=Deployment.objects.latest("created_at").pk).update(
        status=status, finished_at=timezone.now()
    )


def test_an_environment_without_deployments_has_a_grey_badge(public):
    svg = svg_of(Client().get(SVG))
    assert texts(svg) == ["uat", "uat", "nothing deployed", "nothing deployed"]
    assert "#9f9f9f" in fills(svg)
    assert Client().get(JSON).json() == {
        "schemaVersion": 1,
        "label": "uat",
        "message": "nothing deployed",
        "color": "lightgrey",
    }


def test_a_succeeded_deployment_gives_a_green_badge_with_release_and_short_sha(public):
    build = passing_build(public, branch="master")
    svg = svg_of(Client().get(SVG))
    assert texts(svg)[2] == f"v1 · {build.sha[:7]}"
    assert svg.get("aria-label") == f"uat: v1 · {build.sha[:7]}"
    assert "#4c1" in fills(svg)
    assert Client().get(JSON).json() == {
        "schemaVersion": 1,
        "label": "uat",
        "message": f"v1 · {build.sha[:7]}",
        "color": "brightgreen",
    }


def test_a_running_deployment_gives_a_blue_badge_saying_deploying(public):
    first = passing_build(public, branch="master")
    second = passing_build(public, branch="topic")
    uat = public.environments.get(name="uat")
    request_deployment(uat, second, cause=ReleaseCause.MANUAL)
    svg = svg_of(Client().get(SVG))
    assert texts(svg)[2] == f"v1 · {first.sha[:7]} · deploying"
    assert "#007ec6" in fills(svg)
    assert Client().get(JSON).json()["color"] == "blue"


@pytest.mark.parametrize("status", [DeploymentStatus.FAILED, DeploymentStatus.INTERRUPTED])
def test_a_failed_deployment_gives_a_red_badge_saying_failed(public, status):
    first = passing_build(public, branch="master")
    uat = public.environments.get(name="uat")
    request_deployment(uat, passing_build(public, branch="topic"), cause=ReleaseCause.MANUAL)
    end_last_deployment(status)
    svg = svg_of(Client().get(SVG))
    assert texts(svg)[2] == f"v1 · {first.sha[:7]} · failed"
    assert "#e05d44" in fills(svg)
    assert Client().get(JSON).json()["color"] == "red"


def test_a_cancelled_deployment_leaves_the_state_of_the_one_before(public):
    passing_build(public, branch="master")
    uat = public.environments.get(name="uat")
    request_deployment(uat, passing_build(public, branch="topic"), cause=ReleaseCause.MANUAL)
    end_last_deployment(DeploymentStatus.CANCELLED)
    assert Client().get(JSON).json()["color"] == "brightgreen"


def test_anonymous_readers_get_a_401_unless_the_pipeline_has_public_badges(pipeline):
    for url in (SVG, JSON):
        response = Client().get(url)
        assert response.status_code == 401
        assert "token" in response.content.decode()
        assert response["Cache-Control"] == "no-store"


def test_an_unknown_pipeline_answers_anonymous_readers_as_a_private_one_does(pipeline):
    assert Client().get("/pipelines/secret/environments/live/badge.svg").status_code == 401


def test_a_viewer_signed_in_or_by_token_reads_a_private_badge(pipeline, client_for, token_for):
    assert client_for("sales").get(SVG).status_code == 200
    assert Client().get(JSON, {"token": token_for("qa")}).json()["label"] == "uat"


def test_a_bad_token_or_a_user_without_a_role_is_refused(pipeline, token_for, client_for):
    assert Client().get(SVG, {"token": "slw_not-a-token"}).status_code == 401
    assert Client().get(SVG, {"token": token_for("nobody")}).status_code == 403
    assert client_for("nobody").get(SVG).status_code == 403


def test_a_known_user_gets_404_for_an_environment_that_does_not_exist(pipeline, client_for):
    assert client_for("qa").get("/pipelines/webshop/environments/nope/badge.svg").status_code == 404


def test_the_first_badge_address_serves_the_same_badge(public):
    assert Client().get("/badges/webshop/uat.svg").content == Client().get(SVG).content


def test_badges_are_cached_briefly_and_answer_304_to_their_etag(public):
    first = Client().get(SVG)
    assert first["Cache-Control"] == "public, max-age=30"
    etag = first["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    again = Client().get(SVG, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag
    passing_build(public, branch="master")
    changed = Client().get(SVG, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_private_badges_are_cached_by_the_browser_only(pipeline, client_for):
    assert client_for("qa").get(JSON)["Cache-Control"] == "private, max-age=30"


def test_the_environment_page_shows_the_markdown_to_copy(pipeline, client_for):
    page = client_for("qa").get("/pipelines/webshop/environments/uat/").content.decode()
    assert (
        "[![webshop uat](http://testserver/pipelines/webshop/environments/uat/badge.svg"
        "?token=YOUR_TOKEN)](http://testserver/pipelines/webshop/environments/uat/)"
    ) in page


def test_public_badges_is_read_from_pipeline_toml(db):
    from pipelines.config import load_pipeline_text
    from pipelines.errors import ConfigError

    text = '[pipeline]\nname = "shop"\npublic_badges = true\n[[environments]]\nname = "live"\n'
    assert load_pipeline_text(text, source="p.toml").public_badges is True
    with pytest.raises(ConfigError, match="public_badges must be a boolean, not a string"):
        load_pipeline_text(text.replace("true", '"yes"'), source="p.toml")
