"""Helpers for the promotion tests: a candidate on uat and a signed checklist for live."""

from django.test import TestCase

from pipelines import checklist
from pipelines.deploys import request_deployment
from pipelines.models import Build, Deployment, Environment, Pipeline, Release
from pipelines.runner.run import run_deployment
from tests.factories import passing_build


def env(pipeline: Pipeline, name: str) -> Environment:
    return Environment.objects.select_related("pipeline", "promote_from").get(
        pipeline=pipeline, name=name
    )


def finish_queued(environment: Environment) -> None:
    """Run what is queued there, whoever was meant to (the runner may be a thread or a worker)."""
    for deployment in Deployment.objects.filter(environment=environment, status="queued"):
        run_deployment(deployment.pk)


def deploy(environment: Environment, build: Build, **kwargs) -> Release:
    with TestCase.captureOnCommitCallbacks(execute=True):
        deployment = request_deployment(environment, build, cause="manual", **kwargs)
    finish_queued(environment)
    deployment.refresh_from_db()
    return deployment.release


def uat_runs_a_new_build(pipeline: Pipeline, **fields) -> Release:
    """A passing master build auto-deploys to uat; returns uat's release of it."""
    build = passing_build(pipeline, "master", **fields)
    uat = env(pipeline, "uat")
    finish_queued(uat)
    uat.refresh_from_db()
    assert uat.current_release.build_id == build.pk, "uat did not deploy the new build"
    return uat.current_release


def sign_everything(pipeline: Pipeline, users: dict) -> None:
    live = env(pipeline, "live")
    with TestCase.captureOnCommitCallbacks(execute=True):
        for item in live.checklist_items.all():
            checklist.sign(item, by=users[item.role])


def item(pipeline: Pipeline, key: str):
    return env(pipeline, "live").checklist_items.get(key=key)
