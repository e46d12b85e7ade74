"""A promotion's permanent page: its signed receipt, in words, with the file to download."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render

from dashboard.access import viewer_required
from pipelines import receipts
from pipelines.errors import ReceiptNotReady
from pipelines.models import Promotion


def _promotion(promotion_id: int) -> Promotion:
    return get_object_or_404(
        Promotion.objects.select_related(
            "source__pipeline", "target", "artifact", "requested_by", "deployment__release__build"
        ),
        pk=promotion_id,
    )


@viewer_required
def promotion_detail(request: HttpRequest, promotion: int) -> HttpResponse:
    found = _promotion(promotion)
    try:
        signed = receipts.signed_receipt(found)
    except ReceiptNotReady as exc:
        signed, not_ready = None, exc.message
    else:
        not_ready = ""
    context = {
        "promotion": found,
        "pipeline": found.source.pipeline,
        "signed": signed,
        "receipt": signed["receipt"] if signed else None,
        "not_ready": not_ready,
    }
    return render(request, "dashboard/promotion.html", context)


@viewer_required
def promotion_receipt_file(request: HttpRequest, promotion: int) -> HttpResponse:
    """The signed receipt as a file to keep (the same document as the API's)."""
    found = _promotion(promotion)
    try:
        signed = receipts.signed_receipt(found)
    except ReceiptNotReady as exc:
        return HttpResponse(exc.message, status=409, content_type="text/plain; charset=utf-8")
    response = JsonResponse(signed, json_dumps_params={"ensure_ascii": False, "indent": 2})
    response["Content-Disposition"] = f'attachment; filename="promotion-{found.pk}-receipt.json"'
    return response
