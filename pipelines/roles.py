"""Roles are Django groups. What each may do is decided here, once."""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models


class Role(models.TextChoices):
    LEAD = "lead", "Team lead"
    DEVELOPER = "developer", "Developer"
    SALES = "sales", "Sales"
    SUPPORT = "support", "Support"
    QA = "qa", "QA"


# The roles that sign checklist items (a lead promotes, a developer deploys and watches).
SIGNER_ROLES = frozenset({Role.SALES.value, Role.SUPPORT.value, Role.QA.value})

User = AbstractBaseUser | AnonymousUser


def group_names(user: User) -> list[str]:
    """The names of the user's groups, as the page header lists them (cached on the user
    object for the request: the roles and the header share one query)."""
    if not user.is_authenticated:
        return []
    cached = getattr(user, "_slipway_groups", None)
    if cached is None:
        cached = user._slipway_groups = list(user.groups.values_list("name", flat=True))
    return cached


def roles_of(user: User) -> set[str]:
    """The Slipway roles a user holds (cached on the user object for the request)."""
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_slipway_roles", None)
    if cached is None:
        names = set(group_names(user))
        cached = {role.value for role in Role if role.value in names}
        if user.is_superuser:
            cached.add(Role.LEAD.value)
        user._slipway_roles = cached
    return cached


def read_roles(users: Iterable[AbstractBaseUser]) -> None:
    """Read the groups of many users in one query, ahead of `group_names` and `roles_of`
    (which then answer from the user objects): the live sockets' batched access check."""
    users = list(users)
    if not users:
        return
    names: dict[object, list[str]] = {user.pk: [] for user in users}
    memberships = type(users[0]).groups.through.objects.filter(user_id__in=names)
    for user_id, name in memberships.values_list("user_id", "group__name"):
        names[user_id].append(name)
    for user in users:
        user._slipway_groups = names[user.pk]


def has_role(user: User, role: str) -> bool:
    return role in roles_of(user)


def can_view(user: User) -> bool:
    """Anyone holding a Slipway role may look at every pipeline."""
    return bool(roles_of(user))


def can_lead(user: User) -> bool:
    """Promote, lock, roll back, deploy anywhere."""
    return has_role(user, Role.LEAD)


def can_deploy(user: User, *, guarded: bool) -> bool:
    """Developers deploy to environments without a checklist; leads anywhere."""
    if can_lead(user):
        return True
    return not guarded and has_role(user, Role.DEVELOPER)


def can_edit_flags(user: User) -> bool:
    """Change feature flags: leads, and QA who test features in production."""
    return has_role(user, Role.LEAD) or has_role(user, Role.QA)


def can_report_builds(user: User) -> bool:
    """Push builds, reports and artifacts (CI's token belongs to a developer)."""
    return has_role(user, Role.LEAD) or has_role(user, Role.DEVELOPER)
