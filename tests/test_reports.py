"""Reading JUnit and Cobertura reports, and refusing hostile XML."""

from decimal import Decimal

import pytest

from pipelines.errors import InvalidInput
from pipelines.reports import CaseCounts, parse_cobertura, parse_junit

PYTEST_JUNIT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="1" skipped="1"
 tests="4"><testcase classname="t" name="a"/><testcase classname="t" name="b"/>
<testcase classname="t" name="c"><failure message="boom">x</failure></testcase>
<testcase classname="t" name="d"><skipped message="later"/></testcase></testsuite></testsuites>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<testsuite><testcase name="&lol3;"/></testsuite>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE coverage [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<coverage line-rate="0.5">&secret;</coverage>"""


def test_it_counts_a_pytest_report():
    assert parse_junit(PYTEST_JUNIT) == CaseCounts(passed=2, failed=1, skipped=1)


def test_it_counts_a_bare_testsuite_root():
    report = b'<testsuite><testcase name="a"/><testcase name="b"><skipped/></testcase></testsuite>'
    assert parse_junit(report) == CaseCounts(passed=1, failed=0, skipped=1)


def test_it_adds_up_many_testsuites_and_counts_errors_as_failures():
    report = b"""<testsuites><testsuite><testcase/><testcase><error/></testcase></testsuite>
    <testsuite><testcase/><testcase><failure/></testcase></testsuite></testsuites>"""
    assert parse_junit(report) == CaseCounts(passed=2, failed=2, skipped=0)


def test_it_reads_cobertura_line_rate_as_a_percentage():
    report = b'<?xml version="1.0" ?><coverage version="7.6" line-rate="0.8731" branch-rate="0"/>'
    assert parse_cobertura(report) == Decimal("87.31")


def test_it_accepts_the_doctype_old_cobertura_files_carry():
    report = (
        b'<?xml version="1.0"?><!DOCTYPE coverage SYSTEM '
        b'"http://cobertura.sourceforge.net/xml/coverage-04.dtd"><coverage line-rate="1"/>'
    )
    assert parse_cobertura(report) == Decimal("100.00")


@pytest.mark.parametrize("report", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_it_refuses_entity_declarations(report):
    with pytest.raises(InvalidInput, match="refused"):
        parse_junit(report)
    with pytest.raises(InvalidInput, match="refused"):
        parse_cobertura(report)


@pytest.mark.parametrize(
    "report, message",
    [
        (b"<testsuite><testcase>", "not well-formed"),
        (b"", "not well-formed"),
        (b"<html/>", "not a JUnit report"),
    ],
)
def test_it_names_what_is_wrong_with_a_junit_report(report, message):
    with pytest.raises(InvalidInput, match=message) as raised:
        parse_junit(report)
    assert raised.value.details["field"] == "junit"


@pytest.mark.parametrize(
    "report, message",
    [
        (b"<coverage/>", "no line-rate"),
        (b'<coverage line-rate="lots"/>', "not a number"),
        (b'<coverage line-rate="1.5"/>', "between 0 and 1"),
        (b'<coverage line-rate="NaN"/>', "between 0 and 1"),
        (b"<testsuite/>", "not a Cobertura report"),
    ],
)
def test_it_names_what_is_wrong_with_a_coverage_report(report, message):
    with pytest.raises(InvalidInput, match=message) as raised:
        parse_cobertura(report)
    assert raised.value.details["field"] == "coverage"
