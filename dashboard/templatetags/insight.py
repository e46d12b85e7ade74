"""Display helpers of the insight features (badges, trends, metrics, quality diff, probe)."""

from django import template

from pipelines import numbers

register = template.Library()

register.filter("signed", numbers.signed)
