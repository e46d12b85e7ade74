"""Pinned environments: after a rollback, auto-deploy stops there until a lead unpins.

A rollback pins its environment (`Environment.pinned_at`, who, why), so the next passing build
does not deploy straight over the release the lead went back to. The builds that arrive
meanwhile wait, listed on the board (`held_builds`); unpinning (pipelines/deploys.py
`unpin`: page, API, `slipway unpin`) deploys the newest of them. A person's own deploy or
promotion still goes: only auto-deploy stops.
"""

import fnmatch
import re

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.utils import timezone

from pipelines import audit
from pipelines.live import publish_after_commit, publish_board
from pipelines.models import AuditEvent, Build, BuildStatus, Environment

# The board lists at most this many waiting builds per environment, newest first.
HELD_SHOWN = 10


def pin(environment: Environment, *, by: AbstractBaseUser, reason: str) -> None:
    """Pin `environment`, in the caller's transaction (the rollback's)."""
    Environment.objects.filter(pk=environment.pk).update(
        pinned_at=timezone.now(), pinned_by=by, pin_reason=reason[:200]
    )
    audit.record(
        "pinned",
        f"{environment.name} pinned by {by.get_username()}: {reason}; auto-deploy waits there "
        "until a lead unpins",
        pipeline=environment.pipeline,
        environment=environment,
        actor=by,
        reason=reason,
    )
    publish_after_commit(publish_board, environment.pipeline_id)


def clear(environment: Environment) -> None:
    Environment.objects.filter(pk=environment.pk).update(
        pinned_at=None, pinned_by=None, pin_reason=""
    )


def is_pinned(environment: Environment) -> bool:
    return Environment.objects.filter(pk=environment.pk, pinned_at__isnull=False).exists()


def hold(environment: Environment, build: Build) -> None:
    """An auto-deploy that a pin stops: recorded once per build, listed on the board."""
    held = AuditEvent.objects.filter(
        environment=environment, action="auto_deploy_held", data__sha=build.sha
    )
    if held.exists():
        return  # CI posted the build again
    audit.record(
        "auto_deploy_held",
        f"auto-deploy of {build.short_sha} to {environment.name} waits: {environment.name} is "
        f"pinned ({environment.pin_reason})",
        pipeline=environment.pipeline,
        environment=environment,
        sha=build.sha,
    )
    publish_after_commit(publish_board, environment.pipeline_id)


def held_builds(environment: Environment, limit: int = HELD_SHOWN) -> list[Build]:
    """The passing builds for the environment's branch that arrived while it is pinned,
    newest first (`pinned_at` and `branch` as loaded)."""
    if environment.pinned_at is None or not environment.branch:
        return []
    candidates = (
        Build.objects.filter(
            pipeline_id=environment.pipeline_id,
            status=BuildStatus.PASSED,
            artifact__isnull=False,
            updated_at__gte=environment.pinned_at,
        )
        .filter(_branches_like(environment.branch))
        .exclude(releases__environment=environment)
        .order_by("-created_at", "-id")
    )
    held = []
    for build in candidates.iterator(chunk_size=200):
        if fnmatch.fnmatchcase(build.branch, environment.branch):
            held.append(build)
            if len(held) >= limit:
                break
    return held


def _branches_like(glob: str) -> Q:
    """The part of fnmatch's `glob` SQL can check: the branch itself when it has no wildcard,
    else its literal start. The scan then stays on the environment's own builds instead of
    reading every branch's since the pin (fnmatch decides the rest)."""
    prefix = re.split(r"[*?\[]", glob, maxsplit=1)[0]
    return Q(branch=glob) if prefix == glob else Q(branch__startswith=prefix)
