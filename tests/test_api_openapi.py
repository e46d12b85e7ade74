"""/api/v1/openapi.json describes exactly the routes that exist."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern

from pipelines.api import urls
from pipelines.api.openapi import DOCUMENT

pytestmark = pytest.mark.django_db

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def routes() -> dict[str, set[str]]:
    """Each route of pipelines/api/urls.py as an OpenAPI path, with its methods."""
    found = {}
    for pattern in urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name == "no-such-endpoint":
            continue
        path = "/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        found[path] = {method.lower() for method in pattern.callback.api_methods}
    return found


def test_every_route_is_described_and_nothing_else():
    described = {
        path: {method for method in item if method in HTTP_METHODS}
        for path, item in DOCUMENT["paths"].items()
    }
    assert described == routes()


def test_every_reference_resolves():
    text = str(DOCUMENT)
    for name in re.findall(r"#/components/(\w+/\w+)", text):
        section, key = name.split("/")
        assert key in DOCUMENT["components"][section], name


def test_every_path_parameter_is_declared():
    for path, item in DOCUMENT["paths"].items():
        declared = {p["name"] for p in item.get("parameters", [])}
        assert set(re.findall(r"{(\w+)}", path)) == declared, path


def test_the_schema_is_served_without_a_token():
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.1")
    assert response.json()["paths"].keys() == DOCUMENT["paths"].keys()
