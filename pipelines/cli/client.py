"""The REST API as the CLI sees it: one Client, errors as CliError with the server's message."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3
TIMEOUT = (10, 120)
UPLOAD_TIMEOUT = (10, 3600)


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.message, self.exit_code = message, exit_code


class Client:
    """The REST API over requests: raises CliError with the server's message."""

    def __init__(self, url: str, token: str) -> None:
        self.base = url.rstrip("/") + "/api/v1"
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {token}", "User-Agent": "slipway-cli"}
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.base + path
        kwargs.setdefault("timeout", TIMEOUT)
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.ConnectionError:
            raise CliError(
                f"Cannot reach Slipway at {url}: is the server running and SLIPWAY_URL right?",
                EXIT_UNREACHABLE,
            ) from None
        except requests.Timeout:
            raise CliError(f"Slipway at {url} did not answer in time.", EXIT_UNREACHABLE) from None
        if response.ok:
            return response.json()
        raise CliError(_error_message(response))

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)


class FileBody:
    """A file as a request body, sent in 1 MiB pieces through one reused buffer.

    Given an open file, requests reads it 16 KiB at a time into new bytes objects; for a
    1 GiB artifact that costs the client (and, with the small packets, the server) about
    as much CPU as the server needs to store it. An iterable with a length is sent as it
    comes, with a Content-Length. Each piece is sent before the next is read, so one
    buffer serves them all.
    """

    PIECE_BYTES = 1024 * 1024

    def __init__(self, path: Path) -> None:
        self.path, self.size = path, path.stat().st_size

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[memoryview]:
        buffer = bytearray(self.PIECE_BYTES)
        view = memoryview(buffer)
        with open(self.path, "rb", buffering=0) as file:
            while read := file.readinto(buffer):
                yield view[:read]


def _error_message(response: requests.Response) -> str:
    try:
        error = response.json()["error"]
        message, code = error["message"], error["code"]
    except (ValueError, KeyError, TypeError):
        text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        return f"The server answered {response.status_code} {response.reason}. {text}".strip()
    if code == "frozen":  # the server's message names the window; say how to go through
        message += " To deploy anyway, a lead adds --reason TEXT."
    return f"{message} ({response.status_code} {code})"


def pipeline_name(client: Client, name: str | None) -> str:
    """The pipeline named, or the only one there is."""
    if name:
        return name
    names = [p["name"] for p in client.get("/pipelines")["pipelines"]]
    if len(names) != 1:
        raise CliError(
            f"Say which pipeline with --pipeline (there are {len(names)}: {', '.join(names)}).",
            EXIT_USAGE,
        )
    return names[0]
