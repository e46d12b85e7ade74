"""Exactly once: twenty leads clicking Promote together make one deployment (PostgreSQL)."""

import threading

import pytest
from django.db import connection

from pipelines.errors import SlipwayError
from pipelines.models import Deployment, Promotion
from pipelines.promotion import promote
from tests.promoting import env, sign_everything, uat_runs_a_new_build
from tests.services import need_postgres

pytestmark = pytest.mark.django_db(transaction=True)

CLICKS = 20


def test_twenty_simultaneous_promotions_make_exactly_one_deployment(pipeline, users, monkeypatch):
    need_postgres()
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    # Keep the deployment queued, so every later click finds it running rather than done.
    monkeypatch.setattr("pipelines.runner.dispatch.start_deployment", lambda deployment_id: None)
    uat, live = env(pipeline, "uat"), env(pipeline, "live")
    start = threading.Barrier(CLICKS)
    outcomes: list[tuple[str, int | None]] = []

    def click() -> None:
        try:
            start.wait()
            outcomes.append(("promoted", promote(pipeline, uat, live, by=users["lead"]).pk))
        except SlipwayError as exc:
            outcomes.append((exc.code, exc.details.get("deployment")))
        finally:
            connection.close()  # each thread has its own real connection

    threads = [threading.Thread(target=click) for _ in range(CLICKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    deployment = Deployment.objects.get(environment=live)
    assert Promotion.objects.get().deployment == deployment
    assert sorted(outcomes) == sorted(
        [("promoted", deployment.pk)] + [("promotion_running", deployment.pk)] * (CLICKS - 1)
    )
