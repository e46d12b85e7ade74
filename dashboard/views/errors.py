"""Error pages that help: a refusal says whom to ask."""

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from pipelines.roles import Role, can_view


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """403. A signed-in person without any Slipway role is told which leads can add one."""
    no_role = request.user.is_authenticated and not can_view(request.user)
    leads = (
        get_user_model()
        .objects.filter(groups__name=Role.LEAD.value, is_active=True)
        .order_by("username")
        .values_list("username", flat=True)
        .distinct()[:10]
        if no_role
        else []
    )
    context = {"exception": str(exception or ""), "no_role": no_role, "leads": list(leads)}
    return render(request, "403.html", context, status=403)
