"""Pages of a log are read as ranges of seqs (pipelines/logs.py, `lines_after`): whatever the
database knows of the log, a page reads its own lines and no more. PostgreSQL's statistics
are always older than a log being written; planned as "the first N lines past a seq", each
page of a 100,000-line log sorted every line past its start."""

import json

import pytest
from django.db import connection, transaction

from dashboard.live_data import stored_lines
from pipelines.logs import append_log, lines_after, lines_before
from tests.services import need_postgres
from tests.watching import running_deployment

pytestmark = pytest.mark.django_db(transaction=True)

LINES = 30_000
PAGE = 1000


def a_log_grown_since_the_statistics_were_taken(pipeline):
    deployment = running_deployment(pipeline)
    with connection.cursor() as cursor:  # statistics of an empty log table, as a new install's
        cursor.execute("DELETE FROM pipelines_logline")
        cursor.execute("ANALYZE pipelines_logline")
    with transaction.atomic():
        append_log(deployment, [("stdout", f"line {n}") for n in range(LINES)])
    deployment.refresh_from_db()
    return deployment


def rows_read(queryset) -> int:
    """The most rows any step of the query's plan handled, as it ran."""
    plan = queryset.explain(analyze=True, format="json")
    return max(int(n) for n in _actual_rows(plan))


def _actual_rows(node):
    if isinstance(node, str):
        node = json.loads(node)
    if isinstance(node, list):
        for item in node:
            yield from _actual_rows(item)
    elif isinstance(node, dict):
        if "Actual Rows" in node:
            yield node["Actual Rows"]
        for value in node.values():
            if isinstance(value, list | dict):
                yield from _actual_rows(value)


def test_a_page_of_a_log_being_written_reads_only_its_own_lines(pipeline):
    need_postgres()  # the planner whose statistics lag behind
    deployment = a_log_grown_since_the_statistics_were_taken(pipeline)
    middle = deployment.last_seq // 2

    assert rows_read(lines_after(deployment.pk, middle, PAGE)) <= PAGE
    assert rows_read(lines_before(deployment.pk, deployment.last_seq + 1, PAGE)) <= PAGE


def test_pages_of_a_log_are_its_lines_in_order_with_none_left_out(pipeline):
    deployment = running_deployment(pipeline)
    append_log(deployment, [("stdout", f"line {n}") for n in range(1, 2501)])

    after, seen = 0, []
    while page := stored_lines(deployment.pk, after=after):
        seen += [line["text"] for line in page]
        after = page[-1]["seq"]
    earlier = lines_before(deployment.pk, 11, 5).values_list("text", flat=True)

    assert seen == [f"line {n}" for n in range(1, 2501)]
    assert list(earlier) == [f"line {n}" for n in range(6, 11)]
    assert stored_lines(deployment.pk, after=100, upto=103) == [
        {"seq": seq, "stream": "stdout", "text": f"line {seq}"} for seq in (101, 102, 103)
    ]
