"""`slipway promote`, `lock` and `unlock`: the lead's commands."""

import argparse
from urllib.parse import urlencode

from pipelines.cli.client import Client, CliError, pipeline_name
from pipelines.cli.logs import follow_to_end
from pipelines.numbers import signed


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
    parser.add_argument(
        "--reason",
        help="inside a scheduled freeze window: why it cannot wait (a lead's break-glass; "
        "audited and announced)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="promote nothing: show what it would change (coverage, tests, commits)",
    )
    parser.set_defaults(handler=promote)


def promote(client: Client, args: argparse.Namespace) -> None:
    pipeline = pipeline_name(client, args.pipeline)
    if args.dry_run:
        preview = client.get(
            f"/pipelines/{pipeline}/promotions/preview?{urlencode({'to': args.target})}"
        )
        if preview["from"] != args.source:
            raise CliError(f"{args.target} is promoted from {preview['from']}, not {args.source}.")
        print(describe_preview(preview))
        return
    body = {"from": args.source, "to": args.target}
    if args.digest:
        body["digest"] = args.digest
    if args.reason:
        body["reason"] = args.reason
    deployment = client.post(f"/pipelines/{pipeline}/promotions", json=body)
    print(
        f"promoting {deployment['sha'][:7]} ({deployment['digest']}) from {args.source} to "
        f"{args.target} as {deployment['version']}: deployment #{deployment['id']}"
    )
    if args.follow:
        follow_to_end(client, deployment["id"])


def describe_preview(preview: dict) -> str:
    """The quality diff as `slipway promote --dry-run` prints it."""
    candidate, current = preview["candidate"], preview["current"]
    source, target = preview["from"], preview["to"]
    if candidate is None:
        return f"{source} runs nothing yet: there is nothing to promote to {target}."
    lines = [
        f"would promote {source} {candidate['version']} ({candidate['sha'][:7]}, "
        f"{candidate['digest']}) to {target}"
        + (f", which runs {current['version']} ({current['sha'][:7]})" if current else ""),
    ]
    if current is None:
        lines.append(f"{target} runs nothing yet: nothing to compare with.")
        return "\n".join(lines)
    before, after = current["build"], candidate["build"]
    lines.append(
        f"coverage: {_figure(before['coverage'], '%')} → {_figure(after['coverage'], '%')}"
        f" ({_delta(preview['coverage_delta'], ' pt')})"
    )
    lines.append(
        f"tests: {_figure(_total(before['tests']))} → {_figure(_total(after['tests']))}"
        f" ({_delta(preview['tests_delta'])})"
    )
    tests = preview["tests"]
    if not tests["known"]:
        lines.append("per-test results: not known (both builds need a JUnit report)")
    for key, title in (
        ("newly_failing", "newly failing"),
        ("fixed", "fixed"),
        ("added", "added"),
        ("removed", "removed"),
    ):
        if tests["known"]:
            found = tests[key]
            lines.append(f"{title}: {found['count']}")
            lines += [f"  {name}" for name in found["names"]]
            if found["count"] > len(found["names"]):
                lines.append(f"  … and {found['count'] - len(found['names'])} more")
    commits = preview["commits"]
    lines.append(f"commits: {commits['count']}")
    lines += [f"  {c['sha'][:7]} {c['message']} ({c['author']})" for c in commits["list"]]
    if commits["compare_url"]:
        lines.append(f"compare: {commits['compare_url']}")
    return "\n".join(lines)


def _total(tests: dict | None) -> int | None:
    return None if tests is None else sum(tests.values())


def _figure(value, unit: str = "") -> str:
    return "?" if value is None else f"{value:g}{unit}"


def _delta(value, unit: str = "") -> str:
    return "not comparable" if value is None else signed(value) + unit


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
    pipeline = pipeline_name(client, args.pipeline)
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
    pipeline = pipeline_name(client, args.pipeline)
    client.request("DELETE", f"/pipelines/{pipeline}/environments/{args.environment}/lock")
    print(f"{args.environment} unlocked")


def add_unpin(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "unpin",
        help="unpin an environment a rollback pinned: auto-deploy goes on (lead)",
        description="Unpin ENV; the newest passing build that waited deploys right away.",
    )
    parser.add_argument("environment", metavar="ENV")
    parser.add_argument("--pipeline", help="the pipeline (default: the only one)")
    parser.set_defaults(handler=unpin)


def unpin(client: Client, args: argparse.Namespace) -> None:
    pipeline = pipeline_name(client, args.pipeline)
    answer = client.request("DELETE", f"/pipelines/{pipeline}/environments/{args.environment}/pin")
    deployment = answer.get("deployment")
    if deployment:
        print(
            f"{args.environment} unpinned: deploying {deployment['release']['sha'][:7]} as "
            f"{deployment['release']['version']}: deployment #{deployment['id']}"
        )
    else:
        print(f"{args.environment} unpinned: auto-deploy goes on (nothing was waiting)")
