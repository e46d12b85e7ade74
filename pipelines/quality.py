"""The quality diff before promoting: what the candidate changes against what the target runs.

Coverage delta, tests added and removed, tests that newly fail and tests fixed (by name, from
the stored JUnit outcomes), and the commits between. The promotion panel, the API's
promotions/preview and `slipway promote --dry-run` all show this (docs/insight.md).
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q

from pipelines.checklist import candidate_of
from pipelines.models import Build, Environment, Release
from pipelines.models.queries import Span, newest_in_spans
from pipelines.repository import compare_url
from pipelines.test_outcomes import FAILED, PASSED, Outcomes, outcomes_by_build

LIST_LIMIT = 50  # names or commits listed; the counts are always whole


@dataclass
class NameList:
    """Some names, and how many there are in all (at most LIST_LIMIT are kept)."""

    names: list[str] = field(default_factory=list)
    total: int = 0

    @classmethod
    def of(cls, names: set[str]) -> "NameList":
        return cls(sorted(names)[:LIST_LIMIT], len(names))

    @property
    def more(self) -> int:
        return self.total - len(self.names)


@dataclass
class QualityDiff:
    target: Environment
    candidate: Release | None
    current: Release | None  # what the target runs now
    # Both builds have per-test outcomes (their CI uploaded a JUnit report).
    outcomes_known: bool = False
    added: NameList = field(default_factory=NameList)
    removed: NameList = field(default_factory=NameList)
    newly_failing: NameList = field(default_factory=NameList)
    fixed: NameList = field(default_factory=NameList)
    commits: list[Build] = field(default_factory=list)
    commit_count: int = 0
    compare_url: str | None = None

    def test_changes(self) -> list[tuple[NameList, str, str, str]]:
        """(names, key, symbol, title) of each kind of change, the one to worry about first."""
        return [
            (self.newly_failing, "newly-failing", "✗", "newly failing"),
            (self.fixed, "fixed", "✓", "fixed"),
            (self.added, "added", "+", "added"),
            (self.removed, "removed", "−", "removed"),
        ]

    @property
    def coverage_delta(self) -> Decimal | None:
        before, after = _coverage(self.current), _coverage(self.candidate)
        return None if before is None or after is None else after - before

    @property
    def tests_delta(self) -> int | None:
        before, after = _total(self.current), _total(self.candidate)
        return None if before is None or after is None else after - before


def quality_diff(target: Environment) -> QualityDiff:
    """What promoting to `target` would change (its candidate: the upstream's release)."""
    return quality_diffs([(target, target.current_release, candidate_of(target))])[target.pk]


def quality_diffs(
    targets: list[tuple[Environment, Release | None, Release | None]],
) -> dict[int, QualityDiff]:
    """The diff of each (target, what it runs, its candidate), by target id, in three queries
    however many targets: the board shows one per promoted environment."""
    diffs = {
        target.pk: QualityDiff(target=target, candidate=candidate, current=current)
        for target, current, candidate in targets
    }
    comparable = [d for d in diffs.values() if d.candidate and d.current]
    build_ids = {r.build_id for d in comparable for r in (d.current, d.candidate)}
    outcomes = outcomes_by_build(build_ids)
    for diff in comparable:
        _compare_outcomes(
            diff, outcomes.get(diff.current.build_id), outcomes.get(diff.candidate.build_id)
        )
    _list_commits([d for d in comparable if d.current.build_id != d.candidate.build_id])
    return diffs


def _compare_outcomes(diff: QualityDiff, before: Outcomes | None, after: Outcomes | None) -> None:
    if before is None or after is None:
        return
    diff.outcomes_known = True
    both = before.keys() & after.keys()
    diff.added = NameList.of(after.keys() - before.keys())
    diff.removed = NameList.of(before.keys() - after.keys())
    diff.newly_failing = NameList.of(
        {n for n in both if after[n] == FAILED and before[n] != FAILED}
    )
    diff.fixed = NameList.of({n for n in both if before[n] == FAILED and after[n] == PASSED})


def _list_commits(diffs: list[QualityDiff]) -> None:
    """The builds between each diff's two releases, newest first, LIST_LIMIT each, and how
    many there are; one query (pipelines/models/queries.py)."""
    if not diffs:
        return
    spans = [Span.between(d.current.build, d.candidate.build) for d in diffs]
    for build in newest_in_spans(spans, LIST_LIMIT):
        diffs[build.span].commits.append(build)
        diffs[build.span].commit_count = build.span_total
    for diff in diffs:
        base, head = diff.current.build, diff.candidate.build
        diff.compare_url = compare_url(diff.target.pipeline.repository_url, base.sha, head.sha)


def builds_between(base: Build, head: Build) -> Q:
    """The builds `head` brings that `base` has not: head's branch, after base, up to head."""
    return Q(branch=head.branch, created_at__gt=base.created_at, created_at__lte=head.created_at)


def _coverage(release: Release | None) -> Decimal | None:
    return release.build.coverage if release else None


def _total(release: Release | None) -> int | None:
    return release.build.tests_total if release else None
