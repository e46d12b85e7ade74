"""The DORA metrics page of a pipeline: one environment, over 7, 30 or 90 days."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from dashboard.access import viewer_required
from dashboard.charts import bar_chart, count, percent, short_duration
from pipelines.metrics import WINDOWS, Metrics, dora_metrics
from pipelines.models import Environment, Pipeline

DEFAULT_DAYS = 30


@viewer_required
def metrics_page(request: HttpRequest, pipeline: str) -> HttpResponse:
    found = get_object_or_404(Pipeline, name=pipeline)
    environments = list(found.environments.all())
    if not environments:
        raise Http404(f"{found.name} has no environments yet.")
    env = _chosen(environments, request.GET.get("environment"))
    days = _days(request.GET.get("days"))
    metrics = dora_metrics(env, days)
    context = {
        "pipeline": found,
        "environments": environments,
        "environment": env,
        "days": days,
        "windows": WINDOWS,
        "metrics": metrics,
        "charts": _charts(metrics),
    }
    return render(request, "insight/metrics.html", context)


def _chosen(environments: list[Environment], name: str | None) -> Environment:
    """The environment asked for; by default the last (live, where DORA matters most)."""
    if name is None:
        return environments[-1]
    for env in environments:
        if env.name == name:
            return env
    raise Http404(f"No environment {name!r}.")


def _days(value: str | None) -> int:
    if value is None:
        return DEFAULT_DAYS
    if value not in {str(days) for days in WINDOWS}:
        raise Http404(f"days is one of {', '.join(map(str, WINDOWS))}.")
    return int(value)


def _charts(metrics: Metrics) -> list:
    weeks = metrics.weeks

    def label(week) -> str:
        return f"{week.start.day} {week.start:%b}"

    def series(value) -> list:
        return [(label(week), value(week.figures)) for week in weeks]

    def seconds(duration):
        return None if duration is None else duration.total_seconds()

    charts = (
        ("frequency", "Deployments a week", lambda f: f.deployments, count),
        (
            "lead-time",
            "Lead time for changes, median of the week",
            lambda f: seconds(f.lead_time_median),
            short_duration,
        ),
        (
            "failure-rate",
            "Change failure rate of the week",
            lambda f: f.change_failure_rate,
            percent,
        ),
        (
            "restore",
            "Time to restore, median of the failures that began that week",
            lambda f: seconds(f.time_to_restore_median),
            short_duration,
        ),
    )
    return [
        (title, bar_chart(chart_id, title, series(value), fmt))
        for chart_id, title, value, fmt in charts
    ]
