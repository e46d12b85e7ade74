"""Pages that do not grow with history: every page, and a promotion, makes the same number
of queries with a short past as with a long one (their speed at 100,000 builds:
bench/pages_at_scale.py; a promotion's: bench/promote_latency.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pipelines.models import AuditEvent, Deployment
from tests.history import add_history
from tests.live import bearer
from tests.promoting import env, finish_queued, sign_everything, uat_runs_a_new_build

PAGES = {
    "board": lambda d: "/pipelines/webshop/",
    "environment page": lambda d: "/pipelines/webshop/environments/dev/",
    "guarded environment page": lambda d: "/pipelines/webshop/environments/live/",
    "audit log": lambda d: "/pipelines/webshop/audit/",
    "audit log, an older page": lambda d: f"/pipelines/webshop/audit/?page_before={older_event()}",
    "deployment page": lambda d: f"/deployments/{d.pk}/",
    "deployment log poll": lambda d: f"/deployments/{d.pk}/log?after=1",
    "deployment log, earlier lines": lambda d: f"/deployments/{d.pk}/log?before={d.last_seq}",
    "pipeline API": lambda d: "/api/v1/pipelines/webshop",
}


def older_event() -> int:
    """An event on the audit log's second page (newer and older pages around it)."""
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True)[55]


def queries_of(client, path: str, headers: dict) -> int:
    """Of a second request: the first may do once-a-while work (a token's "last used")."""
    client.get(path, headers=headers)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    return len(captured)


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_a_page_makes_as_many_queries_with_a_long_history_as_with_a_short_one(
    page, pipeline, users, client_for, token_for
):
    client = client_for("lead")
    headers = bearer(token_for("lead")) if "API" in page else {}
    add_history(pipeline, builds=120, deployments=60, lines_each=3, long_log=5, actor=users["lead"])
    newest = Deployment.objects.latest("pk")
    short = queries_of(client, PAGES[page](newest), headers)

    add_history(
        pipeline, builds=300, deployments=120, lines_each=3, long_log=2500, actor=users["lead"]
    )
    newest = Deployment.objects.latest("pk")
    assert newest.last_seq > 2000  # more than the page shows at once
    assert queries_of(client, PAGES[page](newest), headers) == short


def promotion_queries(pipeline, users, client, headers: dict) -> int:
    """The queries of one promotion through the API, uat's newest build to live."""
    candidate = uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    body = {"from": "uat", "to": "live", "digest": candidate.artifact.digest}
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/api/v1/pipelines/webshop/promotions",
            body,
            content_type="application/json",
            headers=headers,
        )
    assert response.status_code == 202, response.content
    finish_queued(env(pipeline, "live"))
    return len(captured)


@pytest.mark.django_db
def test_a_promotion_makes_as_many_queries_with_a_long_history_as_with_a_short_one(
    pipeline, users, client_for, token_for
):
    client, headers = client_for("lead"), bearer(token_for("lead"))
    assert client.get("/api/v1/pipelines/webshop", headers=headers).status_code == 200
    add_history(pipeline, builds=120, deployments=60, lines_each=3, actor=users["lead"])
    short = promotion_queries(pipeline, users, client, headers)

    add_history(pipeline, builds=300, deployments=120, lines_each=3, actor=users["lead"])
    assert promotion_queries(pipeline, users, client, headers) == short
