"""`slipway env delete NAME`: remove a branch environment (docs/branch-environments.md)."""

import argparse

from pipelines.cli.client import Client, pipeline_name


def add_env(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "env",
        help="manage per-branch environments (delete)",
        description="Per-branch environments: made by a branch's first passing build from a "
        "template (per_branch = true in pipeline.toml), deleted here or after idle_days.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    delete = commands.add_parser(
        "delete",
        help="delete a branch environment: its app stopped, its port freed, its history kept",
        description="Delete the branch environment NAME (a lead, or the role its template's "
        "delete_role names): the template's stop_command stops its app, its port is freed; "
        "its deployments, logs and audit events are kept. A later passing build of the "
        "branch makes it again.",
    )
    delete.add_argument("name", metavar="NAME", help="the environment (e.g. feature-gift-cards)")
    delete.add_argument("--pipeline", help="the pipeline (default: the only one)")
    delete.add_argument("--reason", default="", help="why (kept in the audit log)")
    # Also after the command's words: `slipway env delete NAME --server URL`.
    delete.add_argument("--server", metavar="URL", default=argparse.SUPPRESS, help="as above")
    delete.add_argument("--token", default=argparse.SUPPRESS, help="as above")
    delete.set_defaults(handler=delete_environment)


def delete_environment(client: Client, args: argparse.Namespace) -> None:
    pipeline = pipeline_name(client, args.pipeline)
    body = {"reason": args.reason} if args.reason else {}
    answer = client.request("DELETE", f"/pipelines/{pipeline}/environments/{args.name}", json=body)
    print(
        f"{answer['environment']} (branch {answer['source_branch']}) deleted: its app stopped, "
        "its port freed, its history kept"
    )
