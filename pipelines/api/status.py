"""Reading pipelines: what runs where, for dashboards, scripts and `slipway status`."""

from django.http import HttpRequest, JsonResponse

from pipelines.api.decorators import api_view
from pipelines.api.representations import pipeline_json, pipeline_summary_json
from pipelines.board import environment_cards
from pipelines.builds import get_pipeline
from pipelines.models import Pipeline


@api_view("GET")
def pipeline_list(request: HttpRequest) -> JsonResponse:
    pipelines = [pipeline_summary_json(p) for p in Pipeline.objects.all()]
    return JsonResponse({"pipelines": pipelines})


@api_view("GET")
def pipeline_detail(request: HttpRequest, pipeline: str) -> JsonResponse:
    found = get_pipeline(pipeline)
    return JsonResponse(pipeline_json(found, environment_cards(found, insight=False)))
