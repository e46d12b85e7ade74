"""The OpenFeature Remote Evaluation Protocol (OFREP) over an environment's flags.

    POST /ofrep/v1/evaluate/flags/{key}   one flag
    POST /ofrep/v1/evaluate/flags         every flag of the environment; ETag, 304

The environment is the one whose key comes as `Authorization: Bearer <key>`
(pipelines/flag_keys.py). Bodies and errors are OFREP's own shapes, not /api/v1's:
{"key", "value", "reason", "variant", "metadata"} and {"key", "errorCode", "errorDetails"}
(docs/feature-flags.md).
"""

import hashlib
import json
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt

from pipelines.api.parsing import BodyTooLarge, json_object
from pipelines.errors import InvalidInput, SlipwayError
from pipelines.flag_keys import environment_for
from pipelines.flags import Context, InvalidContext, evaluate, parse_context
from pipelines.models import Environment
from pipelines.tokens import InvalidToken


def _ofrep_view(view):
    """POST only, no session login or CSRF (the key is the credential), errors as OFREP's."""

    def wrapper(request: HttpRequest, **kwargs) -> HttpResponse:
        key = kwargs.get("key")
        if request.method != "POST":
            response = _failure(405, key, "GENERAL", f"{request.method} is not allowed; use POST.")
            response["Allow"] = "POST"
            return response
        try:
            env = environment_for(request.headers.get("Authorization"))
            context = _context(request)
        except InvalidToken as exc:
            response = JsonResponse({"errorDetails": exc.message}, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="slipway flags"'
            return response
        except InvalidInput as exc:  # readable, but not a context (NUL, wrong types)
            return _failure(400, key, "INVALID_CONTEXT", exc.message)
        except BodyTooLarge as exc:
            return _failure(413, key, "GENERAL", exc.message)
        except SlipwayError as exc:
            return _failure(400, key, "PARSE_ERROR", exc.message)
        response = view(request, env, context, **kwargs)
        patch_vary_headers(response, ["Authorization"])
        response["Cache-Control"] = "private, no-cache"
        return response

    return csrf_exempt(login_not_required(wrapper))


def _context(request: HttpRequest) -> Context:
    try:
        if not request.body.strip():  # no body: no context
            return parse_context({})
    except RequestDataTooBig:
        raise BodyTooLarge("The body is larger than the server accepts.") from None
    body = json_object(request)
    unknown = set(body) - {"context"}
    if unknown:
        raise InvalidContext(f'Unknown field {sorted(unknown)[0]!r}; send {{"context": …}}.')
    return parse_context(body.get("context"))


def _failure(status: int, key: str | None, code: str, details: str) -> JsonResponse:
    body: dict[str, Any] = {"errorCode": code, "errorDetails": details}
    if key is not None:
        body = {"key": key, **body}
    return JsonResponse(body, status=status)


@_ofrep_view
def evaluate_flag(request: HttpRequest, env: Environment, context: Context, key: str):
    flag = env.flags.filter(key=key).first()
    if flag is None:
        return _failure(404, key, "FLAG_NOT_FOUND", f"{env.name} has no flag {key!r}.")
    return JsonResponse(evaluate(flag, context).as_ofrep())


@_ofrep_view
def evaluate_flags(request: HttpRequest, env: Environment, context: Context):
    flags = [evaluate(flag, context).as_ofrep() for flag in env.flags.order_by("key")]
    body = json.dumps({"flags": flags}, separators=(",", ":")).encode()
    # The answer is a function of the flags and the context: its hash says whether it changed.
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    seen = _entity_tags(request.headers.get("If-None-Match", ""))
    if etag in seen or "*" in seen:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    return response


def _entity_tags(header: str) -> set[str]:
    """The tags of an If-None-Match header; a weak W/ tag matches its strong twin."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
