"""`slipway verify`: check a signed promotion receipt offline, against the server's key."""

import argparse
import json
from pathlib import Path

from pipelines.cli.client import CliError
from pipelines.signing import MAX_RECEIPT_BYTES, InvalidReceipt, load_public_key, verify


def add_verify(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check a promotion receipt's signature offline",
        description="Check RECEIPT (from /api/v1/promotions/ID/receipt) against KEY, the "
        "server's public key (/api/v1/receipts/public-key, as saved: its JSON or the PEM). "
        "Needs no server and no token.",
    )
    parser.add_argument("receipt", metavar="RECEIPT", type=Path, help="the receipt's JSON file")
    parser.add_argument("--key", required=True, type=Path, help="the public key file")
    parser.set_defaults(handler=verify_receipt, offline=True)


def verify_receipt(client: object, args: argparse.Namespace) -> None:
    try:
        key = load_public_key(_read(args.key, "key").decode("utf-8", errors="replace"))
        try:
            document = json.loads(_read(args.receipt, "receipt"))
        except (ValueError, RecursionError) as exc:
            raise InvalidReceipt(f"{args.receipt} is not JSON: {exc}") from None
        receipt = verify(document, key)
    except InvalidReceipt as exc:
        raise CliError(f"{args.receipt}: NOT VALID — {exc}", exit_code=1) from None
    signoffs = ", ".join(
        f"{s.get('signed_by')} ({s.get('role')})" for s in receipt.get("signoffs") or []
    )
    deployment = receipt.get("deployment") or {}
    print(
        f"{args.receipt}: valid. {receipt.get('promoted_by')} promoted "
        f"{(receipt.get('build') or {}).get('sha', '')[:7]} "
        f"({(receipt.get('artifact') or {}).get('digest')}) of {receipt.get('pipeline')} from "
        f"{receipt.get('source')} to {receipt.get('target')} at {receipt.get('promoted_at')}; "
        f"signed off by {signoffs or 'nobody'}; {deployment.get('release')} "
        f"{deployment.get('status')}, log sha-256 {deployment.get('log_sha256')}."
    )


def _read(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_RECEIPT_BYTES + 1)
    except OSError as exc:
        raise CliError(f"cannot read the {what} {path}: {exc.strerror}", exit_code=2) from None
    if len(data) > MAX_RECEIPT_BYTES:
        raise CliError(f"the {what} {path} is larger than any receipt or key", exit_code=2)
    return data
