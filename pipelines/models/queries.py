"""Query shapes more than one read model needs."""

from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber


def newest_per_environment(queryset: QuerySet, *, order_by: str, limit: int) -> QuerySet:
    """The `limit` newest rows of each environment by `order_by` (then id), each with its
    `rank` (1: the newest); one query however many environments."""
    return queryset.annotate(
        rank=Window(
            RowNumber(),
            partition_by=F("environment_id"),
            order_by=(F(order_by).desc(), F("id").desc()),
        )
    ).filter(rank__lte=limit)
