"""DORA metrics of one environment over a window of days (docs/insight.md#dora-metrics).

- deployment frequency: deployments that succeeded;
- lead time for changes: from the build's report (its creation) to its deployment here
  succeeding; median and 90th percentile (nearest rank); rollbacks are not changes;
- change failure rate: deployments that failed (or were interrupted) or were rolled back
  (the next deployment that succeeded here was a rollback), over all deployments that ended
  (cancelled ones changed nothing and rollbacks are the cure, not a change: neither counts);
- time to restore: from a failure (its deployment's end) to the next deployment that
  succeeded and stayed; median over the failures that began in the window and were restored.

Each also week by week (weeks start on Monday, in UTC). Computed in Python over the
window's deployments: one query.
"""

import math
import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

from pipelines.models import Deployment, DeploymentStatus, Environment, ReleaseCause
from pipelines.statuses import FAILED_STATUSES

WINDOWS = (7, 30, 90)
MAX_DAYS = 365
ENDED = (DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED, DeploymentStatus.INTERRUPTED)


@dataclass
class Figures:
    """The four metrics over some stretch of time (the window, or one week of it)."""

    deployments: int = 0  # succeeded
    lead_times: list[timedelta] = field(default_factory=list)
    changes: int = 0  # deployments that ended, rollbacks left out
    failures: int = 0
    restore_times: list[timedelta] = field(default_factory=list)
    unrestored: int = 0  # failures not followed by a good deployment yet

    @property
    def lead_time_median(self) -> timedelta | None:
        return _median(self.lead_times)

    @property
    def lead_time_p90(self) -> timedelta | None:
        return _percentile(self.lead_times, 90)

    @property
    def change_failure_rate(self) -> float | None:
        return self.failures / self.changes if self.changes else None

    @property
    def time_to_restore_median(self) -> timedelta | None:
        return _median(self.restore_times)


@dataclass
class Week:
    start: date
    figures: Figures


@dataclass
class Metrics:
    environment: Environment
    days: int
    start: datetime
    end: datetime
    total: Figures
    weeks: list[Week]

    @property
    def deployments_per_day(self) -> float:
        return self.total.deployments / self.days

    @property
    def deployments_per_week(self) -> float:
        return self.total.deployments * 7 / self.days


def dora_metrics(environment: Environment, days: int, now: datetime | None = None) -> Metrics:
    end = now or timezone.now()
    start = end - timedelta(days=days)
    # The deployments that ended in the window, oldest first. A failure that began before
    # the window is not counted, even if it is restored within it.
    history = list(
        Deployment.objects.filter(
            environment=environment, status__in=ENDED, finished_at__gte=start, finished_at__lte=end
        )
        .select_related("release__build")
        .order_by("finished_at", "id")
    )
    weeks = {monday: Figures() for monday in _mondays(start, end)}
    total = Figures()

    def count(moment: datetime, add) -> None:
        add(total)
        add(weeks[_monday(moment)])

    failure_began: datetime | None = None
    for index, deployment in enumerate(history):
        release, ended = deployment.release, deployment.finished_at
        rollback = release.cause == ReleaseCause.ROLLBACK
        succeeded = deployment.status == DeploymentStatus.SUCCEEDED
        rolled_back = succeeded and _next_success_is_rollback(history, index)
        failed = deployment.status in FAILED_STATUSES or rolled_back
        if succeeded:
            count(ended, lambda f: setattr(f, "deployments", f.deployments + 1))
            if not rollback:
                lead = ended - release.build.created_at
                count(ended, lambda f, lead=lead: f.lead_times.append(lead))
        if not rollback:
            count(ended, lambda f: setattr(f, "changes", f.changes + 1))
            if failed:
                count(ended, lambda f: setattr(f, "failures", f.failures + 1))
        if failed and failure_began is None:
            failure_began = ended
        elif succeeded and not failed and failure_began is not None:
            restore = ended - failure_began
            # Counted in the week the failure began.
            began = failure_began
            count(began, lambda f, restore=restore: f.restore_times.append(restore))
            failure_began = None
    if failure_began is not None:
        count(failure_began, lambda f: setattr(f, "unrestored", f.unrestored + 1))
    return Metrics(
        environment=environment,
        days=days,
        start=start,
        end=end,
        total=total,
        weeks=[Week(monday, figures) for monday, figures in weeks.items()],
    )


def _next_success_is_rollback(history: list[Deployment], index: int) -> bool:
    for later in history[index + 1 :]:
        if later.status == DeploymentStatus.SUCCEEDED:
            return later.release.cause == ReleaseCause.ROLLBACK
    return False


def _monday(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def _mondays(start: datetime, end: datetime) -> list[date]:
    first, last = _monday(start), _monday(end)
    return [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]


def _median(values: list[timedelta]) -> timedelta | None:
    return statistics.median(values) if values else None


def _percentile(values: list[timedelta], percent: int) -> timedelta | None:
    """Nearest rank: the smallest value with at least `percent`% of the values at or below."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]
