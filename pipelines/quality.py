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
from pipelines.repository import compare_url
from pipelines.test_outcomes import FAILED, PASSED, outcomes_of

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

    def as_data(self) -> dict:
        return {"count": self.total, "names": self.names}


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

    def as_data(self) -> dict:
        candidate, current = self.candidate, self.current
        delta = self.coverage_delta
        return {
            "to": self.target.name,
            "from": self.target.promote_from.name if self.target.promote_from else None,
            "candidate": _release_data(candidate),
            "current": _release_data(current),
            "coverage_delta": float(delta) if delta is not None else None,
            "tests_delta": self.tests_delta,
            "tests": {
                "known": self.outcomes_known,
                "added": self.added.as_data(),
                "removed": self.removed.as_data(),
                "newly_failing": self.newly_failing.as_data(),
                "fixed": self.fixed.as_data(),
            },
            "commits": {
                "count": self.commit_count,
                "compare_url": self.compare_url,
                "list": [
                    {"sha": b.sha, "message": b.subject, "author": b.author, "url": b.url}
                    for b in self.commits
                ],
            },
        }


def quality_diff(target: Environment) -> QualityDiff:
    """What promoting to `target` would change (its candidate: the upstream's release)."""
    return diff_releases(target, target.current_release, candidate_of(target))


def diff_releases(
    target: Environment, current: Release | None, candidate: Release | None
) -> QualityDiff:
    diff = QualityDiff(target=target, candidate=candidate, current=current)
    if candidate is None or current is None:
        return diff
    before, after = outcomes_of(current.build), outcomes_of(candidate.build)
    if before is not None and after is not None:
        diff.outcomes_known = True
        both = before.keys() & after.keys()
        diff.added = NameList.of(after.keys() - before.keys())
        diff.removed = NameList.of(before.keys() - after.keys())
        diff.newly_failing = NameList.of(
            {n for n in both if after[n] == FAILED and before[n] != FAILED}
        )
        diff.fixed = NameList.of({n for n in both if before[n] == FAILED and after[n] == PASSED})
    base, head = current.build, candidate.build
    if base.pk != head.pk:
        between = head.pipeline.builds.filter(builds_between(base, head)).order_by("-created_at")
        diff.commit_count = between.count()
        diff.commits = list(between[:LIST_LIMIT])
        diff.compare_url = compare_url(head.pipeline.repository_url, base.sha, head.sha)
    return diff


def builds_between(base: Build, head: Build) -> Q:
    """The builds `head` brings that `base` has not: head's branch, after base, up to head."""
    return Q(branch=head.branch, created_at__gt=base.created_at, created_at__lte=head.created_at)


def _coverage(release: Release | None) -> Decimal | None:
    return release.build.coverage if release else None


def _total(release: Release | None) -> int | None:
    return release.build.tests_total if release else None


def _release_data(release: Release | None) -> dict | None:
    if release is None:
        return None
    build = release.build
    return {
        "version": release.label,
        "sha": build.sha,
        "digest": release.artifact.digest if release.artifact else None,
        "coverage": float(build.coverage) if build.coverage is not None else None,
        "tests": build.tests_total,
    }
