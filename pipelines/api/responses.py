"""The API's response shapes: every error is {"error": {"code", "message", "details"}}."""

from typing import Any

from django.http import JsonResponse

from pipelines.errors import SlipwayError


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JsonResponse:
    response = JsonResponse(error_body(code, message, details), status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="slipway"'
    if status == 429 and details and "retry_after" in details:
        response["Retry-After"] = str(details["retry_after"])
    return response


def response_for_error(exc: SlipwayError) -> JsonResponse:
    """The one place where a domain error becomes an HTTP status and a code."""
    return error_response(exc.http_status, exc.code, exc.message, _jsonable(exc.details))


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value
        if isinstance(value, (str, int, float, bool, list, dict, type(None)))
        else str(value)
        for key, value in details.items()
    }
