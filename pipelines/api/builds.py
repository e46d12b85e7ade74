"""Builds and their reports, as CI sends them."""

from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError

from pipelines.api.decorators import api_view, require_builder
from pipelines.api.parsing import BadRequest, BodyTooLarge, check_fields, json_object, sha_from_path
from pipelines.api.representations import build_json
from pipelines.builds import get_build, get_pipeline, record_build
from pipelines.reports import apply_reports

BUILD_FIELDS = ("sha", "branch", "message", "author", "url", "status", "tests", "coverage")
REPORT_FIELDS = ("junit", "coverage")


@api_view("POST")
def builds(request: HttpRequest, pipeline: str) -> JsonResponse:
    require_builder(request.user)
    found = get_pipeline(pipeline)
    data = json_object(request)
    check_fields(data, allowed=BUILD_FIELDS, required=("sha", "status"))
    build, created = record_build(
        found,
        sha=data["sha"],
        status=data["status"],
        branch=data.get("branch"),
        message=data.get("message"),
        author=data.get("author"),
        url=data.get("url"),
        tests=data.get("tests"),
        coverage=data.get("coverage"),
        by=request.user,
    )
    return JsonResponse(build_json(build), status=201 if created else 200)


@api_view("POST")
def reports(request: HttpRequest, pipeline: str, sha: str) -> JsonResponse:
    require_builder(request.user)
    build = get_build(get_pipeline(pipeline), sha_from_path(sha))
    files = _report_files(request)
    apply_reports(build, junit=files.get("junit"), coverage=files.get("coverage"), by=request.user)
    build.refresh_from_db()
    return JsonResponse(build_json(build))


def _report_files(request: HttpRequest) -> dict[str, bytes | BinaryIO]:
    """The reports as uploaded files (on disk past a few MiB), or small form fields."""
    if request.content_type != "multipart/form-data":
        raise BadRequest(
            "Send reports as multipart/form-data with the fields junit and/or coverage "
            f"(got {request.content_type or 'no content type'}).",
            content_type=request.content_type,
        )
    try:
        uploads, fields = request.FILES, request.POST
    except RequestDataTooBig:
        raise BodyTooLarge("The form fields are larger than the server accepts.") from None
    except (MultiPartParserError, TooManyFieldsSent, TooManyFilesSent) as exc:
        raise BadRequest(f"The multipart body cannot be read: {exc}") from None
    reports = {}
    for name in REPORT_FIELDS:
        if name in uploads:
            upload = uploads[name]
            limit = settings.SLIPWAY_MAX_REPORT_BYTES
            if upload.size > limit:
                raise BodyTooLarge(f"The {name} report is larger than {limit:,} bytes.", field=name)
            reports[name] = upload.file
        elif name in fields:
            reports[name] = fields[name].encode()
    if not reports:
        raise BadRequest(
            "Send at least one report: a junit field (JUnit XML) and/or a coverage field "
            "(Cobertura XML).",
            fields=list(REPORT_FIELDS),
        )
    return reports
