"""An environment's history: releases and deployments, newest first, paginated."""

import re

import pytest

from pipelines.deploys import request_deployment
from pipelines.models import Lock
from pipelines.runner.run import run_deployment
from tests.factories import passing_build
from tests.promoting import env

pytestmark = pytest.mark.django_db


def test_it_lists_releases_newest_first_and_marks_the_current_one(pipeline, client_for):
    dev = pipeline.environments.get(name="dev")
    for _ in range(3):
        run_deployment(request_deployment(dev, passing_build(pipeline, "x"), cause="manual").pk)
    html = client_for("developer").get("/pipelines/webshop/environments/dev/").content.decode()
    assert re.findall(r'data-release="(v\d+)"', html) == ["v3", "v2", "v1"]
    assert "v3 <strong>(current)</strong>" in html
    assert html.count("data-deployment=") == 3


def test_each_deployment_says_its_status_by_symbol_and_word_not_colour_alone(pipeline, client_for):
    dev = pipeline.environments.get(name="dev")
    run_deployment(request_deployment(dev, passing_build(pipeline, "x"), cause="manual").pk)
    request_deployment(dev, passing_build(pipeline, "x"), cause="manual")  # waits: queued
    html = client_for("developer").get("/pipelines/webshop/environments/dev/").content.decode()
    rows = re.findall(r'<tr data-deployment="\d+">.*?</tr>', html, re.S)
    pills = [re.search(r'<span class="status status-(\w+)">(.) (\w+)</span>\n', r) for r in rows]
    assert [pill.groups() for pill in pills] == [
        ("queued", "○", "queued"),
        ("succeeded", "✓", "succeeded"),
    ]


def test_it_says_its_own_lock_before_the_pipelines_freeze_and_the_freeze_alone(
    pipeline, users, client_for
):
    def banner(environment: str) -> str | None:
        page = client_for("qa").get(f"/pipelines/webshop/environments/{environment}/")
        found = re.search(r'data-field="lock" id="deploy-why">(.*?) by ', page.content.decode())
        return found and found.group(1)

    assert banner("uat") is None
    Lock.objects.create(pipeline=pipeline, owner=users["lead"], reason="Black Friday")
    Lock.objects.create(
        pipeline=pipeline, environment=env(pipeline, "uat"), owner=users["lead"], reason="demo"
    )
    assert banner("uat") == "🔒 uat is locked"
    assert banner("dev") == "❄ webshop is frozen"
    Lock.objects.filter(environment__isnull=True).delete()
    assert banner("uat") == "🔒 uat is locked" and banner("dev") is None


def test_it_pages_through_a_long_history(pipeline, client_for):
    dev = pipeline.environments.get(name="dev")
    build = passing_build(pipeline, "x")
    for _ in range(30):
        run_deployment(request_deployment(dev, build, cause="manual").pk)
    client = client_for("developer")
    first = client.get("/pipelines/webshop/environments/dev/").content.decode()
    assert first.count("data-release=") == 25
    assert '<a href="?releases_before=6">Older →</a>' in first
    second = client.get("/pipelines/webshop/environments/dev/?releases_before=6").content.decode()
    assert re.findall(r'data-release="(v\d+)"', second) == ["v5", "v4", "v3", "v2", "v1"]
    assert '<a href="?releases_after=5">← Newer</a>' in second
    back = client.get("/pipelines/webshop/environments/dev/?releases_after=5").content.decode()
    assert re.findall(r'data-release="(v\d+)"', back)[::24] == ["v30", "v6"]
    deployments = client.get("/pipelines/webshop/environments/dev/?deployments_before=x")
    assert deployments.content.decode().count("data-deployment=") == 25  # a bad key: page 1


def test_an_unknown_environment_is_not_found(pipeline, client_for):
    response = client_for("developer").get("/pipelines/webshop/environments/nope/")
    assert response.status_code == 404
