"""A deployment's page: steps and the live log (docs/architecture.md, "Live updates").

The page renders the last PAGE_LINES lines; the log socket (dashboard/consumers.py) brings
the rest as it comes. `log` answers the page's polls when no socket gets through a proxy
(`?after=N`) and its "load earlier lines" (`?before=N`); `log.txt` is the raw log.
"""

from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.safestring import mark_safe

from dashboard.access import viewer_required
from dashboard.db_pool import give_back_pooled_connection
from dashboard.deployment_status import status_context, status_html
from dashboard.log_html import ROW_FIELDS, rows_html
from pipelines.logs import lines_after, lines_before
from pipelines.models import Deployment, Promotion
from pipelines.numbers import parse_whole_number
from pipelines.roles import roles_of

PAGE_LINES = 2000
MAX_LINES = 5000
DOWNLOAD_CHUNK = 5000


@viewer_required
def deployment_detail(request: HttpRequest, deployment: int) -> HttpResponse:
    found = get_object_or_404(
        Deployment.objects.select_related("environment__pipeline", "release__build"),
        pk=deployment,
    )
    tail = list(lines_before(found.pk, found.last_seq + 1, PAGE_LINES).values_list(*ROW_FIELDS))
    context = {
        "deployment": found,
        "environment": found.environment,
        "pipeline": found.environment.pipeline,
        "log_html": rows_html(tail),
        "first_seq": tail[0][0] if tail else 0,
        "last_seq": tail[-1][0] if tail else 0,
        "promotion": Promotion.objects.filter(deployment=found).first(),
        **status_context(found, roles_of(request.user)),
    }
    return render(request, "dashboard/deployment.html", context)


@viewer_required
def deployment_log(request: HttpRequest, deployment: int) -> HttpResponse:
    """`?after=N`: the lines after N and the status, as the socket's frames (for polls);
    `?before=N`: the lines before N, plain (for "load earlier lines"). `limit` ≤ 5000."""
    found = get_object_or_404(Deployment, pk=deployment)
    limit = min(_number(request.GET.get("limit"), PAGE_LINES), MAX_LINES) or PAGE_LINES
    if "before" in request.GET:
        before = _number(request.GET.get("before"), 0)
        chunk = list(lines_before(found.pk, before, limit).values_list(*ROW_FIELDS))
        return HttpResponse(rows_html(chunk))
    after = _number(request.GET.get("after"), 0)
    chunk = list(lines_after(found.pk, after, limit).values_list(*ROW_FIELDS))
    frame = status_html(found, roles_of(request.user), oob=True)
    if chunk:
        frame = rows_html(chunk, oob=True) + frame
    response = HttpResponse(mark_safe(frame))
    response["X-Last-Seq"] = str(chunk[-1][0] if chunk else after)
    return response


@viewer_required
def deployment_log_text(request: HttpRequest, deployment: int) -> StreamingHttpResponse:
    """The raw log as text, streamed in chunks (a log may hold a million lines)."""
    found = get_object_or_404(Deployment, pk=deployment)
    response = StreamingHttpResponse(_raw_log(found.pk), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="deployment-{found.pk}.log"'
    return response


async def _raw_log(deployment_id: int) -> AsyncIterator[str]:
    after = 0
    while True:
        chunk = await sync_to_async(_raw_chunk)(deployment_id, after)
        if not chunk:
            return
        after = chunk[-1][0]
        yield "".join(f"{text}\n" for _, text in chunk)


def _raw_chunk(deployment_id: int, after: int) -> list[tuple[int, str]]:
    try:
        return list(lines_after(deployment_id, after, DOWNLOAD_CHUNK).values_list("seq", "text"))
    finally:
        # A download of a million lines takes its turns with the other views (one chunk
        # each), not the connection for all of it.
        give_back_pooled_connection()


def _number(value: str | None, default: int) -> int:
    """A query parameter as a whole number; `default` when absent or not plainly one."""
    number = parse_whole_number(value or "")
    return default if number is None else number
