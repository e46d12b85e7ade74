"""Reading the reports CI uploads: JUnit XML (test counts) and Cobertura XML (coverage).

The XML comes from outside, so it is parsed with defusedxml: entity declarations
(billion laughs) and external entities or DTDs are refused, never expanded or fetched.
It is parsed incrementally (iterparse), each test case dropped once counted, so a 50 MB
report costs a few MiB, not a tree of it (docs/security.md). Every problem becomes an
InvalidInput naming the report, so the API answers 422.
"""

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from junitparser import TestCase

from pipelines import audit
from pipelines.builds import set_coverage, set_test_results
from pipelines.errors import InvalidInput
from pipelines.models import Build
from pipelines.test_outcomes import (
    FAILED,
    MAX_CASES,
    PASSED,
    SKIPPED,
    Outcomes,
    merge_outcome,
    store_outcomes,
)


@dataclass(frozen=True)
class CaseCounts:
    passed: int
    failed: int
    skipped: int
    # Each case's outcome by name, for the quality diff (pipelines/test_outcomes.py).
    cases: Outcomes = field(default_factory=dict, compare=False)


def apply_reports(
    build: Build,
    *,
    junit: bytes | BinaryIO | None = None,
    coverage: bytes | BinaryIO | None = None,
    by: AbstractBaseUser | None = None,
) -> Build:
    """Fill the build's test counts and coverage from its reports.

    Both reports are read before anything is written: one bad report changes nothing.
    """
    counts = parse_junit(junit) if junit is not None else None
    percent = parse_cobertura(coverage) if coverage is not None else None
    with transaction.atomic():
        if counts is not None:
            set_test_results(
                build, passed=counts.passed, failed=counts.failed, skipped=counts.skipped, by=by
            )
            store_outcomes(build, counts.cases)
        if percent is not None:
            set_coverage(build, percent, by=by)
        figures = []
        if counts is not None:
            figures.append(
                f"{counts.passed} passed, {counts.failed} failed, {counts.skipped} skipped"
            )
        if percent is not None:
            figures.append(f"coverage {percent}%")
        audit.record(
            "reports_received",
            f"Reports for {build.short_sha}: {'; '.join(figures)}",
            pipeline=build.pipeline,
            actor=by,
            sha=build.sha,
        )
    return build


def parse_junit(data: bytes | BinaryIO) -> CaseCounts:
    """Count the test cases of a JUnit report: one <testsuite>, or many under <testsuites>.

    Errors count as failures; a case both skipped and failed counts as failed.
    """
    passed = failed = skipped = 0
    cases: Outcomes = {}
    for event, element, parent in _elements(data, field="junit"):
        if parent is None and event == "start" and element.tag not in ("testsuites", "testsuite"):
            raise InvalidInput(
                f"junit is not a JUnit report: its root element is <{element.tag}>, "
                "not <testsuites> or <testsuite>.",
                field="junit",
            )
        if event != "end" or parent is None:
            continue
        if element.tag == "testcase":
            case = TestCase.fromelem(element)
            if case.is_failure or case.is_error:
                failed, outcome = failed + 1, FAILED
            elif case.is_skipped:
                skipped, outcome = skipped + 1, SKIPPED
            else:
                passed, outcome = passed + 1, PASSED
            if passed + failed + skipped > MAX_CASES:
                raise InvalidInput(
                    f"junit has more than {MAX_CASES} test cases; Slipway keeps at most that many.",
                    field="junit",
                )
            merge_outcome(cases, _case_name(parent, case), outcome)
        if parent.tag != "testcase":  # a case needs its results until it is counted
            parent.remove(element)
    return CaseCounts(passed=passed, failed=failed, skipped=skipped, cases=cases)


def _case_name(suite: Element, case: TestCase) -> str:
    """ "tests.test_cart.CartTest::test_total", as pytest and most runners name classname."""
    owner = case.classname or suite.get("name") or ""
    return f"{owner}::{case.name}" if owner else str(case.name or "")


def parse_cobertura(data: bytes | BinaryIO) -> Decimal:
    """The line coverage of a Cobertura report (as `coverage xml` writes it), in percent."""
    line_rate = None
    for event, element, parent in _elements(data, field="coverage"):
        if parent is None and event == "start":
            if element.tag != "coverage":
                raise InvalidInput(
                    f"coverage is not a Cobertura report: its root element is "
                    f"<{element.tag}>, not <coverage>.",
                    field="coverage",
                )
            line_rate = element.get("line-rate")
            if line_rate is None:
                raise InvalidInput(
                    "coverage has no line-rate attribute on its <coverage> element.",
                    field="coverage",
                )
        elif event == "end" and parent is not None:
            parent.remove(element)  # read the rest only to know it is well-formed
    try:
        rate = Decimal(line_rate.strip())
    except InvalidOperation:
        raise InvalidInput(
            f"coverage line-rate {line_rate[:40]!r} is not a number.", field="coverage"
        ) from None
    if not rate.is_finite() or not 0 <= rate <= 1:
        raise InvalidInput(
            f"coverage line-rate {line_rate[:40]} is not between 0 and 1.", field="coverage"
        )
    return (rate * 100).quantize(Decimal("0.01"))


def _elements(
    data: bytes | BinaryIO, *, field: str
) -> Iterator[tuple[str, Element, Element | None]]:
    """(event, element, its parent) for each start and end, parsed incrementally."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    stack: list[Element] = []
    try:
        # Entity declarations and external references are refused outright (defusedxml
        # defaults); a DOCTYPE alone is allowed because Cobertura files often carry one.
        for event, element in SafeET.iterparse(source, events=("start", "end"), forbid_dtd=False):
            if event == "start":
                yield event, element, stack[-1] if stack else None
                stack.append(element)
            else:
                stack.pop()
                yield event, element, stack[-1] if stack else None
    except DefusedXmlException as exc:
        raise InvalidInput(
            f"{field} was refused: it declares entities or refers to external resources "
            f"({type(exc).__name__}), which Slipway never expands.",
            field=field,
        ) from None
    except ParseError as exc:
        raise InvalidInput(f"{field} is not well-formed XML: {exc}.", field=field) from None
