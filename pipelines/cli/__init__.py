"""`slipway`: the command line for CI and people, built on the REST API.

    slipway push --pipeline webshop --sha $SHA --branch master --status passed \\
        --junit junit.xml --coverage coverage.xml --artifact build.tar.gz
    slipway status --pipeline webshop
    slipway verify receipt.json --key receipt-key.json
    slipway env delete feature-gift-cards

Configuration: SLIPWAY_URL and SLIPWAY_TOKEN, or --server and --token. Exit status: 0 done,
1 the server refused (its message is printed), 2 bad usage or configuration, 3 the
server could not be reached. A new subcommand is a function `add_<name>(subparsers)`
listed in SUBCOMMANDS that sets `handler`, one module each (see push.py).
"""

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from pipelines.cli.client import Client, CliError
from pipelines.cli.deploy import add_deploy
from pipelines.cli.env import add_env
from pipelines.cli.logs import add_logs
from pipelines.cli.promote import add_lock, add_promote, add_unlock, add_unpin
from pipelines.cli.push import add_push
from pipelines.cli.status import add_status
from pipelines.cli.verify import add_verify

SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_push,
    add_status,
    add_logs,
    add_promote,
    add_lock,
    add_unlock,
    add_unpin,
    add_deploy,
    add_env,
    add_verify,
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
    offline = getattr(args, "offline", False)  # `verify` needs neither server nor token
    if not offline and not args.server:
        parser.error("no server: set SLIPWAY_URL or pass --server URL")
    if not offline and not args.token:
        parser.error("no token: set SLIPWAY_TOKEN or pass --token (manage.py create_token)")
    try:
        args.handler(None if offline else Client(args.server, args.token), args)
    except CliError as exc:
        print(f"slipway: {exc.message}", file=sys.stderr)
        return exc.exit_code
    return 0
