"""`slipway logs DEPLOYMENT [--follow]`: print a deployment's log, and with --follow keep
printing until the deployment ends, resuming by seq (GET /api/v1/deployments/{id}/log).
`promote --follow` and `deploy --follow` use the same loop."""

import argparse
import sys
import time

from pipelines.cli.client import Client, CliError
from pipelines.numbers import parse_whole_number
from pipelines.statuses import FINAL_STATUSES

PAGE_LINES = 5000
POLL_SECONDS = 1.0


def add_logs(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "logs",
        help="print a deployment's log (--follow: until it ends)",
        description="Print the log of deployment DEPLOYMENT (its number, as in #42).",
    )
    parser.add_argument("deployment", metavar="DEPLOYMENT", type=_deployment_number)
    parser.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new lines until it ends"
    )
    parser.set_defaults(handler=logs)


def logs(client: Client, args: argparse.Namespace) -> None:
    status = print_log(client, args.deployment, follow=args.follow)
    if args.follow:
        print(f"deployment #{args.deployment} {status}", file=sys.stderr)


def follow_to_end(client: Client, deployment_id: int) -> None:
    """Print the log until the deployment ends; refused (exit 1) unless it succeeded."""
    status = print_log(client, deployment_id, follow=True)
    if status != "succeeded":
        raise CliError(f"deployment #{deployment_id} {status}")
    print(f"deployment #{deployment_id} succeeded")


def print_log(client: Client, deployment_id: int, *, follow: bool) -> str:
    """Print the log's lines (all there are, or until the end with `follow`); its status."""
    after = 0
    while True:
        page = client.get(f"/deployments/{deployment_id}/log?after={after}&limit={PAGE_LINES}")
        if page["lines"]:
            sys.stdout.write("".join(f"{line['text']}\n" for line in page["lines"]))
            sys.stdout.flush()
            after = page["next"]
            continue
        # No more lines for now. The server reads the status before the lines, so a final
        # status with an empty page means the log is complete.
        if not follow or page["status"] in FINAL_STATUSES:
            return page["status"]
        time.sleep(POLL_SECONDS)


def _deployment_number(text: str) -> int:
    number = parse_whole_number(text.removeprefix("#"))
    if number is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a deployment number like 42")
    return number
