"""Insight over the API (docs/insight.md): the quality diff before promoting, DORA metrics."""

from typing import Any

from django.http import HttpRequest, JsonResponse

from pipelines.api.decorators import api_view
from pipelines.api.openapi_schemas import NAME, PIPELINE_PARAM, errors, nullable, obj, ok
from pipelines.api.representations import release_json
from pipelines.builds import get_pipeline
from pipelines.errors import InvalidInput
from pipelines.metrics import MAX_DAYS, Figures, Metrics, dora_metrics
from pipelines.models import Environment, Pipeline
from pipelines.numbers import parse_whole_number
from pipelines.quality import NameList, QualityDiff, quality_diff


@api_view("GET")
def promotion_preview(request: HttpRequest, pipeline: str) -> JsonResponse:
    found = get_pipeline(pipeline)
    target = _target(found, request.GET.get("to"))
    return JsonResponse(quality_json(quality_diff(target)))


def quality_json(diff: QualityDiff) -> dict[str, Any]:
    def names(found: NameList) -> dict[str, Any]:
        return {"count": found.total, "names": found.names}

    delta = diff.coverage_delta
    return {
        "to": diff.target.name,
        "from": diff.target.promote_from.name,
        "candidate": release_json(diff.candidate),
        "current": release_json(diff.current),
        "coverage_delta": float(delta) if delta is not None else None,
        "tests_delta": diff.tests_delta,
        "tests": {
            "known": diff.outcomes_known,
            "added": names(diff.added),
            "removed": names(diff.removed),
            "newly_failing": names(diff.newly_failing),
            "fixed": names(diff.fixed),
        },
        "commits": {
            "count": diff.commit_count,
            "compare_url": diff.compare_url,
            "list": [
                {"sha": b.sha, "message": b.subject, "author": b.author, "url": b.url}
                for b in diff.commits
            ],
        },
    }


@api_view("GET")
def metrics(request: HttpRequest, pipeline: str) -> JsonResponse:
    found = get_pipeline(pipeline)
    name = request.GET.get("environment")
    environments = list(found.environments.all())
    if name is None:
        if not environments:
            raise InvalidInput(f"{found.name} has no environments.", field="environment")
        env = environments[-1]
    else:
        env = next((e for e in environments if e.name == name), None)
        if env is None:
            raise InvalidInput(
                f"{found.name} has no environment {name[:64]!r}.", field="environment"
            )
    days_text = request.GET.get("days", "30")
    days = parse_whole_number(days_text)
    if days is None or not 1 <= days <= MAX_DAYS:
        raise InvalidInput(
            f"days must be a whole number from 1 to {MAX_DAYS}, not {days_text[:20]!r}.",
            field="days",
        )
    return JsonResponse(metrics_json(dora_metrics(env, days)))


def metrics_json(found: Metrics) -> dict[str, Any]:
    return {
        "pipeline": found.environment.pipeline.name,
        "environment": found.environment.name,
        "days": found.days,
        "from": found.start.isoformat(),
        "to": found.end.isoformat(),
        **_figures_json(found.total),
        "deployments_per_day": round(found.deployments_per_day, 4),
        "deployments_per_week": round(found.deployments_per_week, 4),
        "weekly": [
            {"week": week.start.isoformat(), **_figures_json(week.figures)} for week in found.weeks
        ],
    }


def _figures_json(figures: Figures) -> dict[str, Any]:
    def seconds(duration):
        return None if duration is None else duration.total_seconds()

    return {
        "deployments": figures.deployments,
        "lead_time": {
            "median_seconds": seconds(figures.lead_time_median),
            "p90_seconds": seconds(figures.lead_time_p90),
            "changes": len(figures.lead_times),
        },
        "change_failure_rate": {
            "rate": figures.change_failure_rate,
            "failures": figures.failures,
            "deployments": figures.changes,
        },
        "time_to_restore": {
            "median_seconds": seconds(figures.time_to_restore_median),
            "restored": len(figures.restore_times),
            "not_restored": figures.unrestored,
        },
    }


def _target(pipeline: Pipeline, name: str | None) -> Environment:
    if not name:
        raise InvalidInput(
            "to is required: the environment promoted to, as in ?to=live.", field="to"
        )
    target = (
        pipeline.environments.select_related(
            "promote_from__current_release__build",
            "promote_from__current_release__artifact",
            "current_release__build",
            "current_release__artifact",
        )
        .filter(name=name)
        .first()
    )
    if target is None:
        raise InvalidInput(f"{pipeline.name} has no environment {name[:64]!r}.", field="to")
    if target.promote_from_id is None:
        raise InvalidInput(f"{target.name} is not promoted from anywhere.", field="to")
    return target


_NAMES = obj(
    ["count", "names"],
    {"count": {"type": "integer"}, "names": {"type": "array", "items": {"type": "string"}}},
    description="How many, and the first 50 names in order.",
)

_SECONDS = {"type": ["number", "null"], "description": "seconds; null: nothing to measure"}
_FIGURES = {
    "deployments": {"type": "integer", "description": "deployments that succeeded"},
    "lead_time": obj(
        ["median_seconds", "p90_seconds", "changes"],
        {"median_seconds": _SECONDS, "p90_seconds": _SECONDS, "changes": {"type": "integer"}},
    ),
    "change_failure_rate": obj(
        ["rate", "failures", "deployments"],
        {
            "rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "failures": {"type": "integer"},
            "deployments": {"type": "integer"},
        },
    ),
    "time_to_restore": obj(
        ["median_seconds", "restored", "not_restored"],
        {
            "median_seconds": _SECONDS,
            "restored": {"type": "integer"},
            "not_restored": {"type": "integer"},
        },
    ),
}

PATHS: dict[str, Any] = {
    "/api/v1/pipelines/{pipeline}/metrics": {
        "parameters": [PIPELINE_PARAM],
        "get": {
            "operationId": "getMetrics",
            "summary": "DORA metrics of one environment over the last `days` days, in all and "
            "week by week (weeks start on Monday, UTC); definitions in docs/insight.md.",
            "parameters": [
                {
                    "name": "environment",
                    "in": "query",
                    "description": "default: the pipeline's last environment",
                    "schema": NAME,
                },
                {
                    "name": "days",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS, "default": 30},
                },
            ],
            "responses": {
                "200": ok(
                    "The metrics.",
                    obj(
                        ["pipeline", "environment", "days", "from", "to", *_FIGURES, "weekly"],
                        {
                            "pipeline": {"type": "string"},
                            "environment": {"type": "string"},
                            "days": {"type": "integer"},
                            "from": {"type": "string", "format": "date-time"},
                            "to": {"type": "string", "format": "date-time"},
                            **_FIGURES,
                            "deployments_per_day": {"type": "number"},
                            "deployments_per_week": {"type": "number"},
                            "weekly": {
                                "type": "array",
                                "items": obj(
                                    ["week", *_FIGURES],
                                    {"week": {"type": "string", "format": "date"}, **_FIGURES},
                                ),
                            },
                        },
                    ),
                ),
                **errors("401", "403", "404", "422"),
            },
        },
    },
    "/api/v1/pipelines/{pipeline}/promotions/preview": {
        "parameters": [PIPELINE_PARAM],
        "get": {
            "operationId": "previewPromotion",
            "summary": "The quality diff of promoting to `to`: what its upstream runs against "
            "what it runs — coverage and test count deltas, tests added, removed, newly "
            "failing and fixed (by name, from the JUnit reports), and the commits between.",
            "parameters": [{"name": "to", "in": "query", "required": True, "schema": NAME}],
            "responses": {
                "200": ok(
                    "The diff; `tests.known` is false unless both builds sent a JUnit report.",
                    obj(
                        ["to", "from", "candidate", "current", "tests", "commits"],
                        {
                            "to": {"type": "string"},
                            "from": {"type": "string"},
                            "candidate": nullable("Release"),
                            "current": nullable("Release"),
                            "coverage_delta": {"type": ["number", "null"]},
                            "tests_delta": {"type": ["integer", "null"]},
                            "tests": obj(
                                ["known", "added", "removed", "newly_failing", "fixed"],
                                {
                                    "known": {"type": "boolean"},
                                    "added": _NAMES,
                                    "removed": _NAMES,
                                    "newly_failing": _NAMES,
                                    "fixed": _NAMES,
                                },
                            ),
                            "commits": obj(
                                ["count", "compare_url", "list"],
                                {
                                    "count": {"type": "integer"},
                                    "compare_url": {"type": ["string", "null"]},
                                    "list": {"type": "array", "items": {"type": "object"}},
                                },
                            ),
                        },
                    ),
                ),
                **errors("401", "403", "404", "422"),
            },
        },
    },
}
