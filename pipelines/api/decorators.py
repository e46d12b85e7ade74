"""What every API view shares: the decorator that authenticates and turns errors into JSON."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from pipelines.api.auth import authenticate_header
from pipelines.api.responses import error_response, response_for_error
from pipelines.errors import PermissionDenied, SlipwayError
from pipelines.roles import User, can_report_builds, can_view

View = Callable[..., HttpResponse]


def api_view(*methods: str, public: bool = False) -> Callable[[View], View]:
    """An API endpoint answering `methods`: token auth (unless public), no CSRF (no cookies
    are used), no login redirect, and every SlipwayError as its JSON error response."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in methods:
                response = error_response(
                    405,
                    "method_not_allowed",
                    f"{request.method} is not allowed here; use {' or '.join(methods)}.",
                    {"allowed": list(methods)},
                )
                response["Allow"] = ", ".join(methods)
                return response
            try:
                if not public:
                    _authenticate(request)
                return view(request, *args, **kwargs)
            except SlipwayError as exc:
                return response_for_error(exc)

        wrapper.api_methods = methods
        return csrf_exempt(login_not_required(wrapper))

    return decorate


def _authenticate(request: HttpRequest) -> None:
    token = authenticate_header(
        request.headers.get("Authorization"), request.META.get("REMOTE_ADDR")
    )
    request.user = token.user
    request.api_token = token
    if not can_view(token.user):
        raise PermissionDenied(
            f"{token.user} holds no Slipway role yet: ask a team lead to add one.",
            user=token.user.get_username(),
        )


def require_builder(user: User) -> None:
    """Builds, reports and artifacts come from CI: lead and developer tokens only."""
    if not can_report_builds(user):
        raise PermissionDenied(
            f"{user} may not report builds: that takes the lead or developer role.",
            user=user.get_username(),
        )
