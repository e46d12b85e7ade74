"""Query shapes more than one read model needs."""

from functools import reduce
from operator import or_

from django.db.models import F, OuterRef, Q, QuerySet, Subquery


def newest_per_environment(
    queryset: QuerySet, environments: QuerySet, *, order_by: str, limit: int
) -> QuerySet:
    """The `limit` newest rows of `queryset` in each of `environments` by `order_by` (then
    id), newest first within each environment, in two queries however long the history.

    The first finds, per environment, the `limit`-th newest row (an index probe each); the
    second reads each environment's range down to it. An index on (environment, -order_by,
    -id) serves both, so the cost follows `limit`, not the rows behind it (a window function
    over the whole history would read them all)."""
    newest = queryset.filter(environment=OuterRef("pk")).order_by(f"-{order_by}", "-id")
    cutoffs = environments.order_by().annotate(
        since=Subquery(newest.values(order_by)[limit - 1 : limit]),
        since_id=Subquery(newest.values("id")[limit - 1 : limit]),
    )
    ranges = [
        Q(environment_id=env_id)
        if since is None  # fewer than `limit`: all of them
        else Q(environment_id=env_id)
        & (Q(**{f"{order_by}__gt": since}) | Q(**{order_by: since, "id__gte": since_id}))
        for env_id, since, since_id in cutoffs.values_list("pk", "since", "since_id")
    ]
    if not ranges:
        return queryset.none()
    return queryset.filter(reduce(or_, ranges)).order_by(
        "environment_id", F(order_by).desc(), F("id").desc()
    )
