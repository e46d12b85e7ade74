"""Reading request bodies: malformed input is a 400 naming the problem, never a 500."""

import json
import re
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from pipelines.errors import InvalidInput, NotFound, SlipwayError

SHA_IN_PATH = re.compile(r"^[0-9a-fA-F]{1,64}$")


class BadRequest(SlipwayError):
    code = "bad_request"
    http_status = 400


class MalformedJson(BadRequest):
    code = "malformed_json"


class BodyTooLarge(SlipwayError):
    code = "body_too_large"
    http_status = 413


def json_object(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object, its strings safe to store."""
    try:
        raw = request.body
    except RequestDataTooBig:
        raise BodyTooLarge("The JSON body is larger than the server accepts.") from None
    if not raw.strip():
        raise MalformedJson("The body is empty; send a JSON object.")
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise MalformedJson("The body is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise MalformedJson(
            f"The body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
            line=exc.lineno,
            column=exc.colno,
        ) from None
    except RecursionError:
        raise MalformedJson("The body nests JSON too deeply.") from None
    if not isinstance(data, dict):
        raise MalformedJson(f"The body must be a JSON object, not {_json_type(data)}.")
    _check_strings(data, path="")
    return data


def check_fields(data: dict[str, Any], *, allowed: tuple[str, ...], required: tuple[str, ...]):
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InvalidInput(
            f"Unknown field {unknown[0]!r}; the fields are {', '.join(allowed)}.", field=unknown[0]
        )
    for name in required:
        if data.get(name) is None:
            raise InvalidInput(f"{name} is required.", field=name)


def sha_from_path(sha: str) -> str:
    if not SHA_IN_PATH.match(sha):
        raise NotFound(f"{sha[:80]!r} is not a commit sha, so there is no build of it.", sha=sha)
    return sha


def _check_strings(value: Any, *, path: str) -> None:
    """Refuse strings no database stores: NUL characters and lone surrogates."""
    if isinstance(value, str):
        if "\x00" in value or not _encodable(value):
            field = path or "body"
            raise InvalidInput(f"{field} contains characters that cannot be stored.", field=field)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, path=path or "body")
            _check_strings(item, path=f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, path=f"{path}[{index}]")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", int: "a number", float: "a number"}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return names.get(type(value), type(value).__name__)
