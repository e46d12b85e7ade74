"""Server-side access checks for the HTML views."""

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from pipelines.roles import can_view


def viewer_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in users without a Slipway role get 403; anonymous ones never get here
    (LoginRequiredMiddleware sends them to the login page)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not can_view(request.user):
            raise PermissionDenied("You have no Slipway role yet: ask a team lead to add you.")
        return view(request, *args, **kwargs)

    return wrapper
