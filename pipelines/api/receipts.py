"""Signed promotion receipts over the API, and the public key that checks them offline."""

from typing import Any

from django.http import HttpRequest, JsonResponse

from pipelines import receipts, signing
from pipelines.api.decorators import api_view
from pipelines.api.openapi_schemas import errors, obj, ok
from pipelines.errors import NotFound
from pipelines.models import Promotion


@api_view("GET")
def promotion_receipt(request: HttpRequest, promotion: int) -> JsonResponse:
    found = Promotion.objects.select_related("deployment").filter(pk=promotion).first()
    if found is None:
        raise NotFound(f"There is no promotion #{promotion}.", promotion=promotion)
    return JsonResponse(receipts.signed_receipt(found), json_dumps_params={"ensure_ascii": False})


@api_view("GET", public=True)
def public_key(request: HttpRequest) -> JsonResponse:
    key = receipts.public_key()
    return JsonResponse(
        {
            "algorithm": signing.ALGORITHM,
            "key_id": signing.key_id(key),
            "pem": signing.public_key_pem(key),
        }
    )


PROMOTION_PARAM = {
    "name": "promotion",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
SIGNED_RECEIPT = obj(
    ["receipt", "signature"],
    {
        "receipt": {
            "type": "object",
            "description": "pipeline, source, target, artifact, build (sha, tests, coverage), "
            "signoffs (who, role, when, digest), promoted_by, promoted_at, deployment (result, "
            "log_sha256), audit (seq and hash of its last audit event), issued_at.",
        },
        "signature": obj(
            ["algorithm", "key_id", "value"],
            {
                "algorithm": {"const": signing.ALGORITHM},
                "key_id": {"type": "string"},
                "value": {"type": "string", "description": "base64 of the Ed25519 signature"},
            },
        ),
    },
)
PATHS: dict[str, Any] = {
    "/api/v1/promotions/{promotion}/receipt": {
        "parameters": [PROMOTION_PARAM],
        "get": {
            "operationId": "getPromotionReceipt",
            "summary": "The promotion's signed receipt (any role).",
            "description": "Issued once, when the promotion's deployment has ended: 409 "
            "`receipt_not_ready` while it is queued or running. The signature covers the "
            "canonical JSON of `receipt` (keys sorted, no spaces, UTF-8); check it with "
            "`slipway verify` and the key of /api/v1/receipts/public-key.",
            "responses": {
                "200": ok("The signed receipt.", SIGNED_RECEIPT),
                **errors("401", "403", "404", "409"),
            },
        },
    },
    "/api/v1/receipts/public-key": {
        "get": {
            "operationId": "getReceiptPublicKey",
            "summary": "The Ed25519 public key that signs receipts (no token needed).",
            "security": [],
            "responses": {
                "200": ok(
                    "The key.",
                    obj(
                        ["algorithm", "key_id", "pem"],
                        {
                            "algorithm": {"const": signing.ALGORITHM},
                            "key_id": {"type": "string"},
                            "pem": {"type": "string"},
                        },
                    ),
                )
            },
        }
    },
}
