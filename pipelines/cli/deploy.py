"""`slipway deploy ENV (--sha SHA | --release vN) [--reason TEXT] [--follow]`: deploy a build to an
environment, or roll it back to an earlier release (POST …/environments/{env}/deployments)."""

import argparse

from pipelines.cli.client import Client, pipeline_name
from pipelines.cli.logs import follow_to_end


def add_deploy(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "deploy",
        help="deploy a build to an environment, or roll back to an earlier release",
        description="Deploy the build of --sha to ENV, or roll ENV back to --release (lead).",
    )
    parser.add_argument("environment", metavar="ENV")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--sha", help="the commit whose build (and artifact) to deploy")
    which.add_argument("--release", help="roll back: deploy this earlier release again (v3)")
    parser.add_argument(
        "--reason",
        help="why the checklist is bypassed: required to deploy or roll back to an "
        "environment with a checklist (lead); also a lead's break-glass inside a scheduled "
        "freeze window",
    )
    parser.add_argument("--pipeline", help="the pipeline (default: the only one)")
    parser.add_argument("--follow", action="store_true", help="print the deploy log as it runs")
    parser.set_defaults(handler=deploy)


def deploy(client: Client, args: argparse.Namespace) -> None:
    pipeline = pipeline_name(client, args.pipeline)
    body = {"sha": args.sha} if args.sha else {"release": args.release}
    if args.reason:
        body["reason"] = args.reason
    path = f"/pipelines/{pipeline}/environments/{args.environment}/deployments"
    deployment = client.post(path, json=body)
    release = deployment["release"]
    print(
        f"deploying {release['sha'][:7]} to {args.environment} as {release['version']} "
        f"({release['description']}): deployment #{deployment['id']}"
    )
    if args.follow:
        follow_to_end(client, deployment["id"])
