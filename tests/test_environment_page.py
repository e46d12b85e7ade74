"""An environment's history: releases and deployments, newest first, paginated."""

import re

import pytest

from pipelines.deploys import request_deployment
from pipelines.runner.run import run_deployment
from tests.factories import passing_build

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
