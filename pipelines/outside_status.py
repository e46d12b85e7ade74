"""What watchers outside the dashboard see of each environment: status badges and the cctray
feed (docs/insight.md). One read model, one rule for "how did the last deployment go"."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from pipelines.models import Deployment, DeploymentStatus, Environment, Pipeline, Release
from pipelines.models.queries import newest_per_environment
from pipelines.statuses import ACTIVE_STATUSES, FAILED_STATUSES

# A cancelled deployment changed nothing: the state is that of the one before it.
COUNTED = [s for s in DeploymentStatus.values if s != DeploymentStatus.CANCELLED]


class State:
    NONE = "none"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class EnvironmentStatus:
    environment: Environment
    # What serves there now (its deployment succeeded).
    release: Release | None
    # The newest deployment that was not cancelled, and the newest one of those that ended.
    last: Deployment | None
    last_finished: Deployment | None

    @property
    def name(self) -> str:
        return f"{self.environment.pipeline.name}/{self.environment.name}"

    @property
    def state(self) -> str:
        if self.last is None:
            return State.NONE
        if self.last.status in ACTIVE_STATUSES:
            return State.RUNNING
        return State.FAILED if self.last.status in FAILED_STATUSES else State.SUCCEEDED

    @property
    def building(self) -> bool:
        return self.last is not None and self.last.status in ACTIVE_STATUSES

    @property
    def serving(self) -> str:
        """ "v12 · 93f4021", or "nothing deployed"."""
        if self.release is None:
            return "nothing deployed"
        return f"{self.release.label} · {self.release.build.short_sha}"

    @property
    def finished_at(self) -> datetime | None:
        return self.last_finished.finished_at if self.last_finished else None


def environment_statuses(pipelines: list[Pipeline]) -> list[EnvironmentStatus]:
    """Every environment of `pipelines`, in board order, in three queries whatever their number."""
    return _statuses(Environment.objects.filter(pipeline__in=pipelines))


def environment_status(environment: Environment) -> EnvironmentStatus:
    return _statuses(Environment.objects.filter(pk=environment.pk))[0]


def _statuses(environments: QuerySet[Environment]) -> list[EnvironmentStatus]:
    environments = list(
        environments.select_related("pipeline", "current_release__build").order_by(
            "pipeline__name", "position", "name"
        )
    )
    # At most one deployment is queued or running per environment, so the newest that ended
    # is among the few newest.
    newest = newest_per_environment(
        Deployment.objects.filter(status__in=COUNTED),
        Environment.objects.filter(pk__in=[env.pk for env in environments]),
        order_by="created_at",
        limit=4,
    ).select_related("release__build")
    recent: dict[int, list[Deployment]] = {}
    for deployment in newest:
        recent.setdefault(deployment.environment_id, []).append(deployment)
    statuses = []
    for env in environments:
        deployments = recent.get(env.pk, [])
        finished = [d for d in deployments if d.status not in ACTIVE_STATUSES]
        statuses.append(
            EnvironmentStatus(
                environment=env,
                release=env.current_release,
                last=deployments[0] if deployments else None,
                last_finished=finished[0] if finished else None,
            )
        )
    return statuses
