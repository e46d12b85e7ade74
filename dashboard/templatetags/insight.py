"""Display helpers of the insight features (badges, trends, metrics, quality diff, probe)."""

from django import template

from dashboard import charts
from pipelines import numbers

register = template.Library()

register.filter("signed", numbers.signed)


def _coverage(value) -> str:
    return f"{value:.1f}%"


def _tests(value) -> str:
    return f"{value:g}"


@register.simple_tag
def sparkline(values, kind: str, environment: str) -> str:
    """The sparkline of a card: kind "coverage" or "tests"."""
    if kind == "coverage":
        return charts.sparkline(
            f"spark-{environment}-coverage",
            f"Coverage of the last {len(values)} releases of {environment}",
            values,
            _coverage,
        )
    return charts.sparkline(
        f"spark-{environment}-tests",
        f"Test count of the last {len(values)} releases of {environment}",
        values,
        _tests,
    )
