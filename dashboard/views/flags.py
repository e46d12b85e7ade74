"""The feature flags of an environment: everyone with a role views them, leads and QA
change them (checked again by the use-cases in pipelines/flags.py)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dashboard.access import viewer_required
from dashboard.views.lookups import environment_or_404
from pipelines.errors import InvalidInput, PermissionDenied, SlipwayError
from pipelines.flags import Rules, checked_rules, create_flag, describe, split_names, update_flag
from pipelines.models import Environment
from pipelines.numbers import parse_whole_number
from pipelines.roles import can_edit_flags


@viewer_required
def flag_list(request: HttpRequest, pipeline: str, environment: str) -> HttpResponse:
    return _page(request, environment_or_404(pipeline, environment))


@require_POST
@viewer_required
def flag_create(request: HttpRequest, pipeline: str, environment: str) -> HttpResponse:
    env = environment_or_404(pipeline, environment)
    key = request.POST.get("key", "").strip()
    try:
        create_flag(env, key, _rules(request.POST), by=request.user)
    except SlipwayError as exc:
        return _page(request, env, refused=("", exc))
    messages.success(request, f"Flag {key} created.")
    return redirect(_flags_url(env) + f"#flag-{key}")


@require_POST
@viewer_required
def flag_update(request: HttpRequest, pipeline: str, environment: str, key: str) -> HttpResponse:
    env = environment_or_404(pipeline, environment)
    flag = get_object_or_404(env.flags, key=key)
    try:
        changed = update_flag(flag, _rules(request.POST), by=request.user)
    except SlipwayError as exc:
        return _page(request, env, refused=(key, exc))
    messages.success(request, f"Flag {key} {'saved' if changed else 'unchanged'}.")
    return redirect(_flags_url(env) + f"#flag-{key}")


def _page(
    request: HttpRequest,
    env: Environment,
    *,
    refused: tuple[str, SlipwayError] | None = None,
) -> HttpResponse:
    """The page; after a refused form, that form again with what was typed and why not."""
    refused_key, error = refused or (None, None)
    if isinstance(error, PermissionDenied):
        raise DjangoPermissionDenied(error.message)
    flags = []
    for flag in env.flags.all():
        mine = flag.key == refused_key
        values = _typed(request.POST) if mine else _values(flag)
        flags.append(
            {"flag": flag, "rules": describe(flag), "values": values, "error": mine and error}
        )
    context = {
        "pipeline": env.pipeline,
        "environment": env,
        "flags": flags,
        "may_edit": can_edit_flags(request.user),
        "new": _typed(request.POST) if refused_key == "" else {"percentage": "0"},
        "new_error": error if refused_key == "" else None,
    }
    return render(request, "dashboard/flags.html", context, status=422 if error else 200)


def _values(flag) -> dict:
    return {
        "description": flag.description,
        "users": ", ".join(flag.users),
        "groups": ", ".join(flag.groups),
        "percentage": str(flag.percentage),
        "default": flag.default,
    }


def _typed(form: QueryDict) -> dict:
    values = {name: form.get(name, "") for name in ("key", "description", "users", "groups")}
    return values | {
        "percentage": form.get("percentage", ""),
        "default": form.get("default") == "on",
    }


def _rules(form: QueryDict) -> Rules:
    text = form.get("percentage", "").strip() or "0"
    percentage = parse_whole_number(text)
    if percentage is None:
        raise InvalidInput(f"percentage {text[:20]!r} is not a whole number.", field="percentage")
    return checked_rules(
        description=form.get("description", "").strip(),
        default=form.get("default") == "on",
        users=split_names(form.get("users", "")),
        groups=split_names(form.get("groups", "")),
        percentage=percentage,
    )


def _flags_url(env: Environment) -> str:
    return reverse("environment-flags", args=[env.pipeline.name, env.name])
