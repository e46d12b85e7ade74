"""`slipway status`: what runs where, as a table."""

import argparse
from collections.abc import Iterable
from typing import Any

from pipelines.cli.client import Client


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
        if freeze := describe_freeze(pipeline.get("freeze") or {}):
            print(freeze)
        print(format_table(environment_rows(pipeline["environments"])))


def describe_freeze(freeze: dict[str, Any]) -> str:
    """The scheduled freeze window holding now, else the next one: one line."""
    if window := freeze.get("active"):
        return f"frozen until {_moment(window['end'])} {window['timezone']}: {_scope(window)}"
    if window := freeze.get("next"):
        return (
            f"next freeze {_moment(window['start'])} – {_moment(window['end'])} "
            f"{window['timezone']}: {_scope(window)}"
        )
    return ""


def _moment(iso: str) -> str:
    return iso[:16].replace("T", " ")


def _scope(window: dict[str, Any]) -> str:
    where = ", ".join(window["environments"] or ["every environment"])
    return f"{window['reason']} ({where})"


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
        if env.get("frozen"):
            state.append(f"frozen until {_moment(env['frozen']['end'])}: {env['frozen']['reason']}")
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
