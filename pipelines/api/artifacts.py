"""Artifact uploads: the raw body streamed into the content-addressed store.

The checks before and after the bytes are shared with the streaming ASGI app
(pipelines.api.streaming), which serves the same endpoint without spooling the body.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from pipelines.api.decorators import api_view, require_builder
from pipelines.api.parsing import BadRequest, sha_from_path
from pipelines.api.representations import artifact_json
from pipelines.artifacts import store_artifact
from pipelines.builds import attach_artifact, get_build, get_pipeline
from pipelines.errors import ArtifactConflict, ArtifactTooLarge, InvalidInput
from pipelines.models import Artifact, Build
from pipelines.numbers import parse_whole_number
from pipelines.roles import User

DIGEST_HEADER = "X-Artifact-SHA256"
HEX_DIGEST = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")
CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Upload:
    build: Build
    digest: str  # sha256:<hex>, as the client announced it


def prepare_upload(
    user: User, pipeline: str, sha: str, *, digest_header: str | None, content_length: str | None
) -> Upload:
    """Everything checked before reading a byte: who, which build, which digest, what size."""
    require_builder(user)
    build = get_build(get_pipeline(pipeline), sha_from_path(sha))
    digest = _announced_digest(digest_header)
    limit = settings.SLIPWAY_MAX_ARTIFACT_BYTES
    announced = parse_whole_number(content_length or "")  # the limit holds while streaming
    if announced is not None and announced > limit:
        raise ArtifactTooLarge(
            f"The artifact ({content_length} bytes) is larger than the limit of {limit} bytes.",
            limit=limit,
        )
    if build.artifact_id and build.artifact.digest != digest:
        raise ArtifactConflict(
            f"Build {build.short_sha} already has artifact {build.artifact.digest}; "
            "a build's artifact never changes.",
            existing=build.artifact.digest,
            uploaded=digest,
        )
    return Upload(build=build, digest=digest)


def finish_upload(upload: Upload, artifact: Artifact, user: User) -> tuple[dict[str, Any], int]:
    """Attach the stored artifact: 201 when attached now, 200 when it already was."""
    artifact, attached_now = attach_artifact(upload.build, artifact, by=user)
    return artifact_json(artifact), 201 if attached_now else 200


def _announced_digest(header: str | None) -> str:
    if not header:
        raise BadRequest(
            f"The {DIGEST_HEADER} header is missing: send the sha256 of the body (hex).",
            header=DIGEST_HEADER,
        )
    match = HEX_DIGEST.match(header.strip())
    if not match:
        raise InvalidInput(
            f"The {DIGEST_HEADER} header {header[:80]!r} is not a sha256 (64 hex characters).",
            field=DIGEST_HEADER,
        )
    return f"sha256:{match.group(1).lower()}"


@api_view("PUT")
def artifact(request: HttpRequest, pipeline: str, sha: str) -> JsonResponse:
    upload = prepare_upload(
        request.user,
        pipeline,
        sha,
        digest_header=request.headers.get(DIGEST_HEADER),
        content_length=request.headers.get("Content-Length"),
    )
    stored = store_artifact(
        iter(lambda: request.read(CHUNK_BYTES), b""), expected_sha256=upload.digest
    )
    body, status = finish_upload(upload, stored, request.user)
    return JsonResponse(body, status=status)
