"""Ingesting what CI reports: builds, their figures, their artifact."""

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from pipelines import audit
from pipelines.errors import ArtifactConflict, InvalidInput, NotFound
from pipelines.models import Artifact, Build, BuildStatus, Pipeline
from pipelines.models.builds import validate_sha
from pipelines.numbers import integral

TEXT_LIMITS = {"branch": 255, "author": 255, "url": 500, "message": 10_000}
MAX_COUNT = 2**31 - 1  # fits every database's integer column


def get_pipeline(name: str) -> Pipeline:
    try:
        return Pipeline.objects.get(name=name)
    except Pipeline.DoesNotExist:
        raise NotFound(f"There is no pipeline named {name!r}.", pipeline=name) from None


def get_build(pipeline: Pipeline, sha: str) -> Build:
    sha = sha.strip().lower()
    build = pipeline.builds.filter(sha=sha).first() or _unique_prefix_match(pipeline, sha)
    if build is None:
        raise NotFound(f"Pipeline {pipeline.name!r} has no build of commit {sha!r}.", sha=sha)
    return build


def _unique_prefix_match(pipeline: Pipeline, sha: str) -> Build | None:
    if len(sha) < 7:
        return None
    matches = list(pipeline.builds.filter(sha__startswith=sha)[:2])
    return matches[0] if len(matches) == 1 else None


def record_build(
    pipeline: Pipeline,
    *,
    sha: str,
    status: str = BuildStatus.PENDING,
    branch: str | None = None,
    message: str | None = None,
    author: str | None = None,
    url: str | None = None,
    tests: dict[str, Any] | None = None,
    coverage: Any = None,
    by: AbstractBaseUser | None = None,
) -> tuple[Build, bool]:
    """Create or update the build of `sha`. Fields left as None keep their stored value.

    Returns (build, created). Raises InvalidInput naming the field at fault.
    """
    sha = _clean_sha(sha)
    fields: dict[str, Any] = {"status": _clean_status(status)}
    for name, value in (("branch", branch), ("message", message), ("author", author), ("url", url)):
        if value is not None:
            fields[name] = _clean_text(name, value)
    if tests is not None:
        fields.update(_clean_tests(tests))
    if coverage is not None:
        fields["coverage"] = clean_coverage(coverage)

    with transaction.atomic():
        build, created = Build.objects.select_for_update().get_or_create(
            pipeline=pipeline, sha=sha, defaults=fields
        )
        if not created:
            for name, value in fields.items():
                setattr(build, name, value)
            build.save()
        audit.record(
            "build_recorded" if created else "build_updated",
            f"Build {build.short_sha} ({build.branch or 'no branch'}) is {build.status}",
            pipeline=pipeline,
            actor=by,
            sha=sha,
            status=build.status,
        )
    _after_build_change(build, by)
    return build, created


def set_test_results(
    build: Build, *, passed: int, failed: int, skipped: int, by: AbstractBaseUser | None = None
) -> Build:
    build.tests_passed, build.tests_failed, build.tests_skipped = passed, failed, skipped
    build.save(update_fields=["tests_passed", "tests_failed", "tests_skipped", "updated_at"])
    return build


def set_coverage(build: Build, percent: Any, by: AbstractBaseUser | None = None) -> Build:
    build.coverage = clean_coverage(percent)
    build.save(update_fields=["coverage", "updated_at"])
    return build


def attach_artifact(
    build: Build, artifact: Artifact, *, by: AbstractBaseUser | None = None
) -> tuple[Artifact, bool]:
    """Make `artifact` the build's artifact. Returns (artifact, attached_now).

    The same artifact again is fine (idempotent CI retries); a different one is
    refused: the artifact of a build never changes once tested.
    """
    with transaction.atomic():
        build = Build.objects.select_for_update().get(pk=build.pk)
        if build.artifact_id == artifact.pk:
            return artifact, False
        if build.artifact_id is not None:
            raise ArtifactConflict(
                f"Build {build.short_sha} already has artifact {build.artifact.digest}; "
                f"a build's artifact never changes.",
                existing=build.artifact.digest,
                uploaded=artifact.digest,
            )
        build.artifact = artifact
        build.save(update_fields=["artifact", "updated_at"])
        audit.record(
            "artifact_attached",
            f"Artifact {artifact.short_digest} ({artifact.size} bytes) "
            f"attached to {build.short_sha}",
            pipeline=build.pipeline,
            actor=by,
            sha=build.sha,
            digest=artifact.digest,
        )
    _after_build_change(build, by)
    return artifact, True


def _after_build_change(build: Build, by: AbstractBaseUser | None) -> None:
    # Imported here: deploys imports this module for get_build.
    from pipelines.auto_deploys import auto_deploy

    if build.status == BuildStatus.PASSED and build.artifact_id:
        auto_deploy(build)


def _clean_sha(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("sha is required: the commit's hex sha.", field="sha")
    value = value.strip().lower()
    try:
        validate_sha(value)
    except ValidationError:
        raise InvalidInput(
            f"sha {value[:80]!r} is not a commit sha (7 to 64 hex characters).", field="sha"
        ) from None
    return value


def _clean_status(value: Any) -> str:
    if value not in BuildStatus.values:
        raise InvalidInput(
            f"status {value!r} is not one of {', '.join(BuildStatus.values)}.", field="status"
        )
    return value


def _clean_text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string.", field=name)
    if len(value) > TEXT_LIMITS[name]:
        raise InvalidInput(f"{name} is longer than {TEXT_LIMITS[name]} characters.", field=name)
    if name == "url" and value and not value.startswith(("http://", "https://")):
        raise InvalidInput("url must start with http:// or https://.", field="url")
    return value


def _clean_tests(tests: Any) -> dict[str, int]:
    if not isinstance(tests, dict):
        raise InvalidInput(
            'tests must be an object like {"passed": 10, "failed": 0, "skipped": 1}.', field="tests"
        )
    unknown = set(tests) - {"passed", "failed", "skipped"}
    if unknown:
        raise InvalidInput(f"tests has unknown keys: {', '.join(sorted(unknown))}.", field="tests")
    cleaned = {}
    for key in ("passed", "failed", "skipped"):
        value = integral(tests.get(key, 0))
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
            raise InvalidInput(f"tests.{key} must be a whole number ≥ 0.", field=f"tests.{key}")
        cleaned[f"tests_{key}"] = value
    return cleaned


def clean_coverage(value: Any) -> Decimal:
    try:
        if isinstance(value, bool):
            raise TypeError
        percent = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidInput(
            f"coverage {value!r} is not a number (percent, 0–100).", field="coverage"
        ) from None
    if not percent.is_finite() or not 0 <= percent <= 100:
        raise InvalidInput(f"coverage {value} is not between 0 and 100.", field="coverage")
    return percent.quantize(Decimal("0.01"))
