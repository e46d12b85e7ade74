"""Signed promotion receipts: their canonical form, signing and verifying (Ed25519).

Free of Django on purpose: `slipway verify receipt.json` checks a receipt offline with this
module alone (docs/audit.md). A signed receipt is

    {"receipt": {...}, "signature": {"algorithm": "Ed25519", "key_id": "…", "value": "<base64>"}}

and the signature covers the canonical JSON of "receipt": keys sorted, no spaces, UTF-8.
"""

import base64
import binascii
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

RECEIPT_TYPE = "slipway.promotion-receipt"
ALGORITHM = "Ed25519"
# A receipt file larger than this is not one of ours.
MAX_RECEIPT_BYTES = 1024 * 1024


class InvalidReceipt(Exception):
    """The receipt is malformed, signed by another key, or altered since it was signed."""


def canonical(document: Any) -> bytes:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short name of a public key: the first 16 hex digits of the sha-256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def sign(receipt: dict[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    signature = private_key.sign(canonical(receipt))
    return {
        "receipt": receipt,
        "signature": {
            "algorithm": ALGORITHM,
            "key_id": key_id(private_key.public_key()),
            "value": base64.b64encode(signature).decode(),
        },
    }


def load_public_key(text: str) -> Ed25519PublicKey:
    """A public key as PEM, or the JSON that /api/v1/receipts/public-key answers with."""
    text = text.strip()
    if text.startswith("{"):
        try:
            text = json.loads(text)["pem"]
        except (ValueError, KeyError, TypeError):
            raise InvalidReceipt('The key file is JSON but has no "pem" in it.') from None
    try:
        key = serialization.load_pem_public_key(text.encode())
    except (ValueError, TypeError) as exc:
        raise InvalidReceipt(f"The key is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidReceipt("The key is not an Ed25519 public key.")
    return key


def verify(document: Any, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The receipt inside `document` if its signature holds for `public_key`; else
    InvalidReceipt saying why."""
    if not isinstance(document, dict) or set(document) != {"receipt", "signature"}:
        raise InvalidReceipt('A signed receipt is an object with "receipt" and "signature" only.')
    receipt, signature = document["receipt"], document["signature"]
    if not isinstance(receipt, dict) or receipt.get("type") != RECEIPT_TYPE:
        raise InvalidReceipt(f'"receipt" is not a {RECEIPT_TYPE}.')
    if not isinstance(signature, dict) or signature.get("algorithm") != ALGORITHM:
        raise InvalidReceipt(f"The signature is not {ALGORITHM}.")
    if signature.get("key_id") != key_id(public_key):
        raise InvalidReceipt(
            f"The receipt names key {signature.get('key_id')!r}, not this key "
            f"({key_id(public_key)}): it was signed by another server or key."
        )
    value = signature.get("value")
    try:
        raw = base64.b64decode(value if isinstance(value, str) else "", validate=True)
        public_key.verify(raw, canonical(receipt))
    except (binascii.Error, ValueError, InvalidSignature):
        raise InvalidReceipt(
            "The signature does not match the receipt: it was altered after it was signed."
        ) from None
    return receipt
