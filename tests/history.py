"""A pipeline with a long past, made fast: builds on every environment's branch, releases
and finished deployments on every environment, audit events and log lines, all in bulk.

The query-count tests use it at two sizes (tests/test_pages_at_scale.py) and
bench/pages_at_scale.py at a hundred thousand builds. Log lines go through `append_log`
(COPY on PostgreSQL) so that error lines are found as they would be.
"""

import contextlib
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from pipelines import audit
from pipelines.artifacts import store_artifact
from pipelines.logs import append_log
from pipelines.models import (
    Build,
    Deployment,
    Environment,
    LogLine,
    Pipeline,
    Release,
    ReleaseCause,
)

BATCH = 5000
LOG_BATCH = 5000


def add_history(
    pipeline: Pipeline,
    *,
    builds: int,
    deployments: int,
    lines_each: int = 0,
    long_log: int = 0,
    actor=None,
) -> None:
    """`builds` builds spread over the environments' branches, `deployments` finished
    deployments (each with its release) spread over the environments, as many audit
    events, `lines_each` log lines on each deployment and `long_log` more on the newest.
    The newest release of each environment becomes its current one."""
    environments = list(pipeline.environments.order_by("position"))
    branches = sorted({env.branch for env in environments if env.branch}) or ["main"]
    artifact = store_artifact([f"history of {pipeline.name}".encode()])
    start = timezone.now() - timedelta(days=365)
    step = timedelta(days=365) / max(builds, 1)
    offset = Build.objects.filter(pipeline=pipeline).count()
    made = []
    for first in range(0, builds, BATCH):
        rows = [
            Build(
                created_at=start + n * step,
                pipeline=pipeline,
                sha=f"{offset + n:040x}",
                branch=branches[n % len(branches)],
                message=f"Change {n}",
                author="Ada",
                status="passed",
                tests_passed=120,
                tests_failed=0,
                tests_skipped=1,
                coverage="91.50",
                artifact=artifact,
            )
            for n in range(first, min(first + BATCH, builds))
        ]
        with _dated(Build):
            made += Build.objects.bulk_create(rows)
    _add_deployments(environments, made, deployments, actor)
    _add_log(pipeline, lines_each, long_log)


@contextlib.contextmanager
def _dated(model):
    """Rows keep the `created_at` given (auto_now_add would stamp them all `now`, and a
    history needs its builds apart in time: "builds ahead" counts by it)."""
    field = model._meta.get_field("created_at")
    field.auto_now_add = False
    try:
        yield
    finally:
        field.auto_now_add = True


def _add_deployments(environments: list[Environment], builds, count: int, actor) -> None:
    if not builds or not count:
        return
    for env in environments:
        mine = [b for b in builds if not env.branch or b.branch == env.branch] or builds
        share = count // len(environments)
        base = env.releases.count()
        with transaction.atomic():
            releases = Release.objects.bulk_create(
                Release(
                    environment=env,
                    version=base + n + 1,
                    build=mine[(n * len(mine)) // max(share, 1)],
                    artifact=mine[0].artifact,
                    cause=ReleaseCause.AUTO_DEPLOY,
                    description=f"history {n}",
                    created_by=actor,
                    deployed_at=timezone.now(),
                )
                for n in range(share)
            )
            now = timezone.now()
            Deployment.objects.bulk_create(
                Deployment(
                    environment=env,
                    release=release,
                    status="succeeded" if n % 10 else "failed",
                    started_at=now,
                    finished_at=now + timedelta(seconds=30),
                    requested_by=actor,
                    error="" if n % 10 else "The health check failed.",
                )
                for n, release in enumerate(releases)
            )
            for release in releases:  # one by one: each event extends the hash chain
                audit.record(
                    "deployment_succeeded",
                    f"{env.name} {release.label} deployed",
                    pipeline=env.pipeline,
                    environment=env,
                    actor=actor,
                )
            if releases:
                Environment.objects.filter(pk=env.pk).update(current_release=releases[-1])


def _add_log(pipeline: Pipeline, each: int, long_log: int) -> None:
    """`each` lines on every deployment of the pipeline without a log yet, and `long_log`
    more on the newest; one line in a hundred an error."""
    deployments = list(
        Deployment.objects.filter(environment__pipeline=pipeline, last_seq=0).order_by("pk")
    )
    if each:
        for first in range(0, len(deployments), 100):
            with transaction.atomic():
                for deployment in deployments[first : first + 100]:
                    append_log(deployment, _lines(0, each))
    if long_log and deployments:
        newest = deployments[-1]
        for first in range(0, long_log, LOG_BATCH):
            with transaction.atomic():
                append_log(newest, _lines(first, min(LOG_BATCH, long_log - first)))


def _lines(first: int, count: int) -> list[tuple[str, str]]:
    return [
        (
            LogLine.Stream.STDERR if n % 100 == 99 else LogLine.Stream.STDOUT,
            f"ERROR: step {n} failed" if n % 100 == 99 else f"copying file {n} of the release",
        )
        for n in range(first, first + count)
    ]
