"""POST …/builds/{sha}/reports: JUnit and Cobertura XML fill a build's figures."""

import pytest
import requests

from pipelines.builds import record_build
from pipelines.models import Build
from tests.live import bearer
from tests.test_reports import BILLION_LAUGHS, EXTERNAL_ENTITY, PYTEST_JUNIT

SHA = "9b2e5c1d0f3a4b6c8d7e9f0a1b2c3d4e5f6a7b8c"
COBERTURA = b'<?xml version="1.0" ?>\n<coverage version="7.6" line-rate="0.9125"></coverage>'


@pytest.fixture
def build(pipeline):
    return record_build(pipeline, sha=SHA, status="passed", branch="master")[0]


@pytest.fixture
def post(slipway_server, token_for):
    token = token_for("developer")

    def send(files=None, *, sha=SHA, token=token, headers=None, **kwargs):
        return requests.post(
            f"{slipway_server.url}/api/v1/pipelines/webshop/builds/{sha}/reports",
            files=files,
            headers={**(bearer(token) if token else {}), **(headers or {})},
            **kwargs,
        )

    return send


def figures(build: Build) -> tuple:
    build.refresh_from_db()
    return build.tests_passed, build.tests_failed, build.tests_skipped, build.coverage


def test_it_fills_tests_and_coverage_from_both_reports(post, build):
    response = post({"junit": ("junit.xml", PYTEST_JUNIT), "coverage": ("c.xml", COBERTURA)})
    assert response.status_code == 200
    assert response.json()["tests"] == {"passed": 2, "failed": 1, "skipped": 1}
    assert response.json()["coverage"] == 91.25
    assert figures(build)[:3] == (2, 1, 1) and float(figures(build)[3]) == 91.25


def test_one_report_alone_is_fine(post, build):
    assert post({"coverage": ("coverage.xml", COBERTURA)}).status_code == 200
    assert figures(build)[0] is None and float(figures(build)[3]) == 91.25


def test_it_answers_400_without_any_report(post, build):
    response = post({"other": ("x.xml", b"<x/>")})
    assert response.status_code == 400
    assert "junit" in response.json()["error"]["message"]


def test_a_multipart_body_with_no_parts_gets_the_json_answer(post, build):
    # Twisted's own form parser used to answer this with a bare 400 before Django saw it.
    boundary = "c637e12e2b1a998d80d1b087531af51c"
    response = post(
        data=f"--{boundary}--\r\n",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 400
    assert "Send at least one report" in response.json()["error"]["message"]


def test_it_answers_400_to_a_body_that_is_not_multipart(post, build):
    response = post(data=PYTEST_JUNIT, headers={"Content-Type": "application/xml"})
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["error"]["message"]
    assert figures(build) == (None, None, None, None)


def test_it_answers_401_without_a_token(post, build):
    assert post({"junit": ("j.xml", PYTEST_JUNIT)}, token=None).status_code == 401
    assert figures(build) == (None, None, None, None)


def test_it_answers_403_to_a_qa_token(post, build, token_for):
    assert post({"junit": ("j.xml", PYTEST_JUNIT)}, token=token_for("qa")).status_code == 403
    assert figures(build) == (None, None, None, None)


def test_it_answers_404_for_an_unknown_build(post, build):
    response = post({"junit": ("j.xml", PYTEST_JUNIT)}, sha="0" * 40)
    assert response.status_code == 404


def test_it_answers_413_to_an_oversized_report_field(post, build):
    response = post({"junit": (None, "<testsuite>" + "x" * 3_000_000 + "</testsuite>")})
    assert response.status_code == 413
    assert figures(build) == (None, None, None, None)


@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_it_answers_422_to_hostile_xml_and_changes_nothing(post, build, hostile):
    response = post({"junit": ("j.xml", PYTEST_JUNIT), "coverage": ("c.xml", hostile)})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "coverage"
    assert figures(build) == (None, None, None, None)


def test_it_answers_422_to_xml_that_is_not_a_report(post, build):
    response = post({"junit": ("j.xml", b"<html><body/></html>")})
    assert response.status_code == 422
    assert "not a JUnit report" in response.json()["error"]["message"]
