"""Each build's per-test outcomes, kept compactly, read back for the quality diff.

A report of 10,000 tests packs to a few dozen KiB: names sorted, JSON, zlib.
"""

import json
import zlib

from pipelines.models import Build, TestOutcomes

PASSED, FAILED, SKIPPED = "p", "f", "s"
# Worst first: a name reported twice (a rerun, a duplicated parametrisation) keeps its worst.
SEVERITY = {FAILED: 2, SKIPPED: 1, PASSED: 0}
MAX_CASES = 200_000
MAX_NAME = 500  # characters; longer names are cut (and still told apart by what comes first)

Outcomes = dict[str, str]


def merge_outcome(outcomes: Outcomes, name: str, outcome: str) -> None:
    name = name[:MAX_NAME]
    if SEVERITY[outcome] >= SEVERITY.get(outcomes.get(name, PASSED), 0):
        outcomes[name] = outcome


def store_outcomes(build: Build, outcomes: Outcomes) -> None:
    packed = zlib.compress(json.dumps(dict(sorted(outcomes.items()))).encode(), level=9)
    TestOutcomes.objects.update_or_create(
        build=build, defaults={"count": len(outcomes), "packed": packed}
    )


def outcomes_by_build(build_ids: set[int]) -> dict[int, Outcomes]:
    """The stored outcomes of these builds, by build id (builds without a report are absent)."""
    stored = TestOutcomes.objects.filter(build_id__in=build_ids) if build_ids else []
    return {row.build_id: json.loads(zlib.decompress(bytes(row.packed))) for row in stored}
