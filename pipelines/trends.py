"""Coverage and test count of an environment's recent releases, for the sparklines on its
card, and how its build compares with the environment it promotes to (docs/insight.md)."""

from dataclasses import dataclass
from decimal import Decimal

from pipelines.models import Build, Pipeline, Release
from pipelines.models.queries import newest_per_environment

POINTS = 12  # releases per sparkline


@dataclass(frozen=True)
class Trend:
    versions: list[str]  # oldest first
    coverage: list[Decimal | None]
    tests: list[int | None]
    # Against the environment this one promotes to (None: nothing to compare).
    downstream: str | None = None
    coverage_delta: Decimal | None = None
    tests_delta: int | None = None

    @property
    def has_points(self) -> bool:
        return any(v is not None for v in self.coverage + self.tests)


def recent_releases(pipeline: Pipeline) -> dict[int, list[Release]]:
    """Each environment's last POINTS releases that went live there, oldest first; two
    queries, whatever the length of the history."""
    newest = newest_per_environment(
        Release.objects.filter(deployed_at__isnull=False),
        pipeline.environments.all(),
        order_by="deployed_at",
        limit=POINTS,
    ).prefetch_related("build")  # by primary key: a join may be planned as a pass over builds
    found: dict[int, list[Release]] = {}
    for release in newest:
        found.setdefault(release.environment_id, []).insert(0, release)
    return found


def trend_of(releases: list[Release], build: Build | None, downstream) -> Trend:
    """`downstream`: (name, its current build) of the environment promoted to, or None."""
    trend = Trend(
        versions=[r.label for r in releases],
        coverage=[r.build.coverage for r in releases],
        tests=[r.build.tests_total for r in releases],
    )
    if build is None or downstream is None or downstream[1] is None:
        return trend
    name, other = downstream
    coverage_delta = (
        build.coverage - other.coverage
        if build.coverage is not None and other.coverage is not None
        else None
    )
    ours, theirs = build.tests_total, other.tests_total
    tests_delta = ours - theirs if ours is not None and theirs is not None else None
    return Trend(
        versions=trend.versions,
        coverage=trend.coverage,
        tests=trend.tests,
        downstream=name,
        coverage_delta=coverage_delta,
        tests_delta=tests_delta,
    )
