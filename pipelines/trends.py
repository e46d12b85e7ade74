"""Coverage and test count of an environment's recent releases, for the sparklines on its
card, and how its build compares with the environment it promotes to (docs/insight.md)."""

from dataclasses import dataclass
from decimal import Decimal

from pipelines.models import Build
from pipelines.models.queries import newest_releases_tested
from pipelines.models.releases import release_label

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


@dataclass(frozen=True)
class Point:
    """One release of a sparkline: its label and its build's coverage and test count."""

    label: str
    coverage: Decimal | None
    tests: int | None


def recent_releases(environment_ids: list[int]) -> dict[int, list[Point]]:
    """Each environment's last POINTS releases that went live there, oldest first; one
    query whatever the length of the history (none for no environment)."""
    found: dict[int, list[Point]] = {}
    if not environment_ids:
        return found
    for env_id, version, coverage, *counts in newest_releases_tested(environment_ids, POINTS):
        tests = None if all(c is None for c in counts) else sum(c or 0 for c in counts)
        found.setdefault(env_id, []).insert(0, Point(release_label(version), coverage, tests))
    return found


def trend_of(points: list[Point], build: Build | None, downstream) -> Trend:
    """`downstream`: (name, its current build) of the environment promoted to, or None."""
    trend = Trend(
        versions=[p.label for p in points],
        coverage=[p.coverage for p in points],
        tests=[p.tests for p in points],
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
