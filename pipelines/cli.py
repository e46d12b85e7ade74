"""`slipway`: the command line for CI and people, built on the REST API.

    slipway push --pipeline webshop --sha $SHA --branch master --status passed \\
        --junit junit.xml --coverage coverage.xml --artifact build.tar.gz
    slipway status --pipeline webshop

Configuration: SLIPWAY_URL and SLIPWAY_TOKEN, or --url and --token. Exit status: 0 done,
1 the server refused (its message is printed), 2 bad usage or configuration, 3 the
server could not be reached. A new subcommand is a function `add_<name>(subparsers)`
listed in SUBCOMMANDS that sets `handler` (see push and status).
"""

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import requests

from pipelines.cli_deploy import add_deploy
from pipelines.cli_logs import add_logs

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


def _error_message(response: requests.Response) -> str:
    try:
        error = response.json()["error"]
        message, code = error["message"], error["code"]
    except (ValueError, KeyError, TypeError):
        text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        return f"The server answered {response.status_code} {response.reason}. {text}".strip()
    return f"{message} ({response.status_code} {code})"


# --- push --------------------------------------------------------------------------


def add_push(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "push",
        help="report a build: its status, test and coverage reports, artifact",
        description="Record the build of a commit, then upload its reports and artifact.",
    )
    parser.add_argument("--pipeline", required=True, help="the pipeline's name")
    parser.add_argument("--sha", required=True, help="the commit sha")
    parser.add_argument("--branch", help="the branch built (decides where it auto-deploys)")
    parser.add_argument(
        "--status", required=True, choices=["pending", "running", "passed", "failed"]
    )
    parser.add_argument("--message", help="the commit message")
    parser.add_argument("--author", help="the commit's author")
    parser.add_argument("--url", dest="build_url", metavar="URL", help="the CI run's URL")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="JUnit XML report")
    parser.add_argument("--coverage", type=Path, metavar="FILE", help="Cobertura XML report")
    parser.add_argument("--artifact", type=Path, metavar="FILE", help="the build (.tar.gz)")
    parser.set_defaults(handler=push)


def push(client: Client, args: argparse.Namespace) -> None:
    for path in (args.junit, args.coverage, args.artifact):
        if path is not None and not path.is_file():
            raise CliError(f"{path} is not a file.", EXIT_USAGE)
    pipeline = f"/pipelines/{args.pipeline}"
    fields = {
        "sha": args.sha,
        "status": args.status,
        "branch": args.branch,
        "message": args.message,
        "author": args.author,
        "url": args.build_url,
    }
    build = client.post(
        f"{pipeline}/builds", json={k: v for k, v in fields.items() if v is not None}
    )
    build_path = f"{pipeline}/builds/{build['sha']}"
    print(f"build {build['sha'][:7]} of {args.pipeline}: {build['status']}")

    reports = {name: path for name, path in (("junit", args.junit), ("coverage", args.coverage))}
    reports = {name: path for name, path in reports.items() if path is not None}
    if reports:
        files = {
            name: (path.name, path.read_bytes(), "application/xml")
            for name, path in reports.items()
        }
        build = client.post(f"{build_path}/reports", files=files)
        print(f"reports: {describe_figures(build)}")

    if args.artifact is not None:
        digest = sha256_of(args.artifact)
        with open(args.artifact, "rb") as body:
            artifact = client.put(
                f"{build_path}/artifact",
                data=body,
                headers={"X-Artifact-SHA256": digest, "Content-Type": "application/octet-stream"},
                timeout=UPLOAD_TIMEOUT,
            )
        print(f"artifact {artifact['digest']} ({artifact['size']} bytes)")


def sha256_of(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1024 * 1024):
            sha.update(chunk)
    return sha.hexdigest()


def describe_figures(build: dict[str, Any]) -> str:
    parts = []
    if build.get("tests"):
        tests = build["tests"]
        parts.append(
            f"{tests['passed']} passed, {tests['failed']} failed, {tests['skipped']} skipped"
        )
    if build.get("coverage") is not None:
        parts.append(f"coverage {build['coverage']:g}%")
    return "; ".join(parts) or "no figures"


# --- status ------------------------------------------------------------------------


def add_status(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show what runs where",
        description="Show each environment's release, deployment and lock as a table.",
    )
    parser.add_argument("--pipeline", help="only this pipeline (default: all)")
    parser.set_defaults(handler=status)


def status(client: Client, args: argparse.Namespace) -> None:
    if args.pipeline:
        names = [args.pipeline]
    else:
        names = [p["name"] for p in client.get("/pipelines")["pipelines"]]
    for index, name in enumerate(names):
        pipeline = client.get(f"/pipelines/{name}")
        if len(names) > 1:
            print(("\n" if index else "") + pipeline["name"])
        print(format_table(environment_rows(pipeline["environments"])))


STATUS_COLUMNS = (
    "ENVIRONMENT",
    "RELEASE",
    "SHA",
    "BUILD",
    "TESTS",
    "COVERAGE",
    "DEPLOYED",
    "STATE",
)


def environment_rows(environments: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows = [STATUS_COLUMNS]
    for env in environments:
        release = env["release"] or {}
        build = release.get("build") or {}
        tests = build.get("tests")
        state = []
        if env["deployment"]:
            deployment = env["deployment"]
            state.append(
                f"deploying {deployment['version']} (#{deployment['id']}, {deployment['status']})"
            )
        if env["lock"]:
            state.append(f"locked by {env['lock']['owner']}: {env['lock']['reason']}")
        rows.append(
            (
                env["name"],
                release.get("version", "-"),
                (release.get("sha") or "-")[:7],
                build.get("status", "-"),
                f"{tests['passed']}/{tests['failed']}/{tests['skipped']}" if tests else "-",
                f"{build['coverage']:g}%" if build.get("coverage") is not None else "-",
                _when_and_who(release),
                "; ".join(state) or "-",
            )
        )
    return rows


def _when_and_who(release: dict[str, Any]) -> str:
    if not release.get("deployed_at"):
        return "-"
    when = release["deployed_at"][:16].replace("T", " ")
    return f"{when} by {release['deployed_by']}" if release.get("deployed_by") else when


def format_table(rows: Iterable[tuple[str, ...]]) -> str:
    rows = list(rows)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


# --- promote, lock, unlock (issue 6) ----------------------------------------------

FINAL_STATUSES = ("succeeded", "failed", "cancelled", "interrupted")
FOLLOW_POLL_SECONDS = 1.0


def add_promote(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "promote",
        help="promote what one environment runs to the next (lead)",
        description="Deploy SOURCE's artifact to TARGET once its checklist is complete.",
    )
    parser.add_argument("source", metavar="SOURCE", help="the environment promoted from (uat)")
    parser.add_argument("target", metavar="TARGET", help="the environment promoted to (live)")
    parser.add_argument("--pipeline", help="the pipeline (default: the only one)")
    parser.add_argument("--digest", help="refuse unless SOURCE runs this artifact (sha256:…)")
    parser.add_argument("--follow", action="store_true", help="print the deploy log as it runs")
    parser.set_defaults(handler=promote)


def promote(client: Client, args: argparse.Namespace) -> None:
    pipeline = _pipeline_name(client, args.pipeline)
    body = {"from": args.source, "to": args.target}
    if args.digest:
        body["digest"] = args.digest
    deployment = client.post(f"/pipelines/{pipeline}/promotions", json=body)
    print(
        f"promoting {deployment['sha'][:7]} ({deployment['digest']}) from {args.source} to "
        f"{args.target} as {deployment['version']}: deployment #{deployment['id']}"
    )
    if args.follow:
        follow(client, deployment["id"])


def follow(client: Client, deployment_id: int) -> None:
    """Print the deployment's log until it ends; refused (exit 1) unless it succeeded."""
    after = 0
    while True:
        page = client.get(f"/deployments/{deployment_id}/log?after={after}&limit=500")
        for line in page["lines"]:
            print(line["text"])
        after = page.get("next") or after
        if page["status"] in FINAL_STATUSES and not page["lines"]:
            break
        if not page["lines"]:
            time.sleep(FOLLOW_POLL_SECONDS)
    if page["status"] != "succeeded":
        raise CliError(f"deployment #{deployment_id} {page['status']}")
    print(f"deployment #{deployment_id} succeeded")


def add_lock(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lock",
        help="lock an environment: deploys and promotions to it are refused (lead)",
        description="Lock ENV with a reason; the board shows who locked it, why and since when.",
    )
    parser.add_argument("environment", metavar="ENV")
    parser.add_argument("--reason", required=True, help="why (shown to everyone)")
    parser.add_argument("--pipeline", help="the pipeline (default: the only one)")
    parser.set_defaults(handler=lock)


def lock(client: Client, args: argparse.Namespace) -> None:
    pipeline = _pipeline_name(client, args.pipeline)
    path = f"/pipelines/{pipeline}/environments/{args.environment}/lock"
    locked = client.post(path, json={"reason": args.reason})["lock"]
    print(f"{args.environment} locked by {locked['owner']}: {locked['reason']}")


def add_unlock(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "unlock", help="lift an environment's lock (lead)", description="Unlock ENV."
    )
    parser.add_argument("environment", metavar="ENV")
    parser.add_argument("--pipeline", help="the pipeline (default: the only one)")
    parser.set_defaults(handler=unlock)


def unlock(client: Client, args: argparse.Namespace) -> None:
    pipeline = _pipeline_name(client, args.pipeline)
    client.request("DELETE", f"/pipelines/{pipeline}/environments/{args.environment}/lock")
    print(f"{args.environment} unlocked")


def _pipeline_name(client: Client, name: str | None) -> str:
    if name:
        return name
    names = [p["name"] for p in client.get("/pipelines")["pipelines"]]
    if len(names) != 1:
        raise CliError(
            f"Say which pipeline with --pipeline (there are {len(names)}: {', '.join(names)}).",
            EXIT_USAGE,
        )
    return names[0]


# --- main --------------------------------------------------------------------------

SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_push,
    add_status,
    add_logs,
    add_promote,
    add_lock,
    add_unlock,
    add_deploy,
]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--server",
        default=os.environ.get("SLIPWAY_URL"),
        metavar="URL",
        help="Slipway's base URL (default: $SLIPWAY_URL)",
    )
    common.add_argument(
        "--token",
        default=os.environ.get("SLIPWAY_TOKEN"),
        help="an API token (default: $SLIPWAY_TOKEN)",
    )
    parser = argparse.ArgumentParser(
        prog="slipway",
        description="Talk to a Slipway server: report builds from CI, see what runs where.",
        epilog="Exit status: 0 done, 1 refused by the server, 2 usage, 3 server unreachable.",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    original_add_parser = subparsers.add_parser

    def add_parser(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return original_add_parser(name, parents=[common], **kwargs)

    subparsers.add_parser = add_parser
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.server:
        parser.error("no server: set SLIPWAY_URL or pass --server URL")
    if not args.token:
        parser.error("no token: set SLIPWAY_TOKEN or pass --token (manage.py create_token)")
    try:
        args.handler(Client(args.server, args.token), args)
    except CliError as exc:
        print(f"slipway: {exc.message}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
