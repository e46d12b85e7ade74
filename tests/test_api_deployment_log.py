"""GET /api/v1/deployments/{id}/log?after=N&limit=M: the log by seq, for the CLI and CI."""

import pytest
from django.test import Client

from tests.live import bearer
from tests.watching import running_deployment, write_lines

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(token_for):
    headers = {"headers": bearer(token_for("qa"))}

    def get(path: str):
        return Client().get(f"/api/v1{path}", **headers)

    return get


def test_it_pages_through_the_log_by_seq(pipeline, api):
    deployment = running_deployment(pipeline)
    write_lines(deployment, ["one", "\x1b[31mtwo\x1b[0m", "three"])
    page = api(f"/deployments/{deployment.pk}/log?after=0&limit=2").json()
    assert [(line["seq"], line["text"]) for line in page["lines"]] == [
        (1, "one"),
        (2, "\x1b[31mtwo\x1b[0m"),
    ]
    assert page["next"] == 2
    assert page["status"] == "running"
    assert set(page["lines"][0]) == {"seq", "time", "stream", "text"}

    page = api(f"/deployments/{deployment.pk}/log?after={page['next']}").json()
    assert [line["seq"] for line in page["lines"]] == [3]
    page = api(f"/deployments/{deployment.pk}/log?after={page['next']}").json()
    assert page == {"lines": [], "next": 3, "status": "running"}


def test_it_refuses_bad_paging_with_a_message_naming_the_field(pipeline, api):
    deployment = running_deployment(pipeline)
    for query, field in (
        ("after=-1", "after"),
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("after=%C2%B2", "after"),  # "²" is a digit to str.isdigit(), not to int()
        ("after=" + "9" * 5000, "after"),  # too long for int()
    ):
        response = api(f"/deployments/{deployment.pk}/log?{query}")
        assert response.status_code == 422
        assert response.json()["error"]["details"]["field"] == field


def test_an_unknown_deployment_is_a_json_404(pipeline, api):
    response = api("/deployments/999999/log")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_needs_a_token(pipeline):
    deployment = running_deployment(pipeline)
    assert Client().get(f"/api/v1/deployments/{deployment.pk}/log").status_code == 401
