"""Small helpers that build domain state through the use-cases, as CI would."""

import hashlib
import itertools

from django.test import TestCase

from pipelines.artifacts import store_artifact
from pipelines.builds import attach_artifact, record_build
from pipelines.models import Build, Pipeline

_counter = itertools.count(1)


def fake_sha(label: str = "") -> str:
    return hashlib.sha1(f"{label}-{next(_counter)}".encode()).hexdigest()


def passing_build(pipeline: Pipeline, branch: str = "master", **fields) -> Build:
    """A passed build with tests, coverage and an artifact: auto-deploys where its branch goes.

    The auto-deploys run as they would after the request's commit.
    """
    sha = fields.pop("sha", None) or fake_sha(branch)
    with TestCase.captureOnCommitCallbacks(execute=True):
        build = _record(pipeline, sha, branch, fields)
    build.refresh_from_db()
    return build


def _record(pipeline: Pipeline, sha: str, branch: str, fields: dict) -> Build:
    build, _ = record_build(
        pipeline,
        sha=sha,
        branch=branch,
        status="passed",
        message=fields.pop("message", f"Change {sha[:7]}"),
        author=fields.pop("author", "Ada"),
        tests=fields.pop("tests", {"passed": 10, "failed": 0, "skipped": 1}),
        coverage=fields.pop("coverage", "91.5"),
        **fields,
    )
    artifact = store_artifact([f"artifact of {sha}".encode()])
    attach_artifact(build, artifact)
    return build
