"""Query shapes more than one read model needs."""

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import reduce
from operator import or_

from django.db import connection
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.db.models.query import RawQuerySet

from .builds import Build
from .releases import Release


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


# The board's hot reads as plain SQL. Compiling the ORM's querysets for them (a subquery per
# environment, OR-ed ranges, window functions) took several times longer in Python than
# PostgreSQL took to run them (docs/architecture.md, "The board's read model"). Each is one
# statement that both databases run: scalar subqueries, and UNION ALL of index-served
# `ORDER BY … LIMIT` parts, each wrapped in a subquery (SQLite allows no LIMIT in a bare part).


@dataclass(frozen=True)
class Span:
    """The builds `head` brings that `base` has not: head's branch, after base up to head
    (pipelines.quality.builds_between, as plain values)."""

    pipeline_id: int
    branch: str
    after: datetime
    upto: datetime

    @classmethod
    def between(cls, base, head) -> "Span":
        return cls(head.pipeline_id, head.branch, base.created_at, head.created_at)

    def params(self) -> list:
        ops = connection.ops
        after = ops.adapt_datetimefield_value(self.after)
        upto = ops.adapt_datetimefield_value(self.upto)
        return [self.pipeline_id, self.branch, after, upto]


def _in_span(alias: str = "") -> str:
    """The WHERE of a Span, a range of the (pipeline, branch, created_at) index."""
    a = f"{alias}." if alias else ""
    return f"{a}pipeline_id = %s AND {a}branch = %s AND {a}created_at > %s AND {a}created_at <= %s"


def count_in_spans(spans: list[Span]) -> list[int]:
    """How many builds each span holds, in one query."""
    if not spans:
        return []
    builds = table(Build)
    counts = ", ".join(f"(SELECT COUNT(*) FROM {builds} WHERE {_in_span()})" for _ in spans)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}", [p for span in spans for p in span.params()])
        return list(cursor.fetchone())


def newest_in_spans(spans: list[Span], limit: int) -> RawQuerySet:
    """The `limit` newest builds of each span, newest first, as Builds with `span` (the
    span's index in `spans`) and `span_total` (the span's count), in one query."""
    builds, build = table(Build), Columns(Build, "b")
    # Its columns named, not b.*: a prepared statement's result may not change shape when a
    # migration adds a column (docs/architecture.md, "Reading at scale").
    parts = [
        f"SELECT * FROM (SELECT {build.select}, {index} AS span, "
        f"(SELECT COUNT(*) FROM {builds} WHERE {_in_span()}) AS span_total "
        f"FROM {builds} b WHERE {_in_span('b')} "
        f"ORDER BY b.created_at DESC, b.id DESC LIMIT {int(limit)}) s{index}"
        for index in range(len(spans))
    ]
    sql = " UNION ALL ".join(parts) + " ORDER BY span, created_at DESC, id DESC"
    params = [p for span in spans for p in span.params() * 2]
    return Build.objects.raw(sql, params)


def newest_releases_tested(environment_ids: list[int], limit: int) -> list[tuple]:
    """(environment id, version, coverage, tests passed, failed, skipped) of each
    environment's `limit` newest releases that went live, newest first, in one query (an
    index probe of (environment, -deployed_at, -id) each). Plain rows: making a Release and
    a Build of each took longer than the query."""
    releases, builds = table(Release), table(Build)
    parts = [
        f"SELECT * FROM (SELECT id, environment_id, version, build_id, deployed_at FROM {releases}"
        f" WHERE environment_id = %s AND deployed_at IS NOT NULL"
        f" ORDER BY deployed_at DESC, id DESC LIMIT {int(limit)}) r{index}"
        for index in range(len(environment_ids))
    ]
    sql = (
        "SELECT r.environment_id, r.version, b.coverage, b.tests_passed, b.tests_failed,"
        f" b.tests_skipped FROM ({' UNION ALL '.join(parts)}) r"
        f" JOIN {builds} b ON b.id = r.build_id"
        " ORDER BY r.environment_id, r.deployed_at DESC, r.id DESC"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, environment_ids)
        return [
            (env_id, version, _decimal(coverage), passed, failed, skipped)
            for env_id, version, coverage, passed, failed, skipped in cursor.fetchall()
        ]


def _decimal(value) -> Decimal | None:
    """A DecimalField's value as the ORM gives it (SQLite hands back a float)."""
    return value if value is None or isinstance(value, Decimal) else Decimal(str(value))


class Columns:
    """A model's columns in a hand-written SELECT (table alias `alias`), read back into an
    instance as select_related would: with the ORM's converters (SQLite's text dates become
    datetimes, JSON is decoded), so the instance is the one a queryset would have made."""

    def __init__(self, model, alias: str):
        self.model, self.alias = model, alias
        self.fields = model._meta.concrete_fields
        self.attnames = [f.attname for f in self.fields]
        self.pk_index = self.fields.index(model._meta.pk)
        quote = connection.ops.quote_name
        self.select = ", ".join(f"{alias}.{quote(f.column)}" for f in self.fields)
        self.converters = []
        for index, field in enumerate(self.fields):
            column = field.get_col(alias)
            found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
            if found:
                self.converters.append((index, column, found))

    def __len__(self) -> int:
        return len(self.fields)

    def read(self, row, start: int):
        """The instance in `row` from `start` on (None where an outer join found none)."""
        values = list(row[start : start + len(self.fields)])
        if values[self.pk_index] is None:
            return None
        for index, column, converters in self.converters:
            for converter in converters:
                values[index] = converter(values[index], column, connection)
        return self.model.from_db(connection.alias, self.attnames, values)


def read_rows(sql: str, params: list, columns: list[Columns]) -> list[list]:
    """Run `sql` (selecting each of `columns` in turn) and read each row into instances."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    read = []
    for row in rows:
        start, instances = 0, []
        for part in columns:
            instances.append(part.read(row, start))
            start += len(part)
        read.append(instances)
    return read


def placeholders(values: list) -> str:
    return ", ".join(["%s"] * len(values))


def constants(values) -> str:
    """The code's own words (statuses), written into the statement rather than bound: the
    plan a prepared statement keeps can then use the partial indexes whose condition names
    them, where a bound value would have it planned again at every run (docs/architecture.md,
    "Reading at scale")."""
    for value in values:
        if not re.fullmatch(r"[a-z_]+", value):
            raise ValueError(f"not a constant of the code: {value!r}")
    return ", ".join(f"'{value}'" for value in values)


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)
