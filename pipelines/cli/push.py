"""`slipway push`: everything a CI step reports, in one call."""

import argparse
import hashlib
from pathlib import Path
from typing import Any

from pipelines.cli.client import EXIT_USAGE, UPLOAD_TIMEOUT, Client, CliError, FileBody


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
        artifact = client.put(
            f"{build_path}/artifact",
            data=FileBody(args.artifact),
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
