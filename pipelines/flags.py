"""Feature flags of an environment: the rules, their evaluation, and changing them.

A flag is on for the evaluation context whose `targetingKey` is one of its `users`, or
whose `groups` (a list) shares one of its `groups`, or whose `targetingKey` falls in its
`percentage` by a stable hash; otherwise it is its `default` (docs/feature-flags.md).
The OFREP endpoints (pipelines/api/ofrep.py) and the flags page both come through here.
"""

import hashlib
import re
from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from pipelines import audit
from pipelines.errors import InvalidInput, PermissionDenied
from pipelines.models import Environment, FeatureFlag
from pipelines.roles import can_edit_flags

KEY_RE = re.compile(r"[-a-zA-Z0-9_]{1,64}")
MAX_NAMES = 500  # users or groups in one flag
MAX_NAME_LENGTH = 200
MAX_DESCRIPTION = 500
MAX_FLAGS = 200  # in one environment
# An evaluation context is the caller's: bounded before anything looks at it.
MAX_CONTEXT_GROUPS = 100
MAX_TARGETING_KEY = 500

# OpenFeature's reasons (https://openfeature.dev/specification/types#resolution-reason).
STATIC, TARGETING_MATCH, SPLIT, DEFAULT = "STATIC", "TARGETING_MATCH", "SPLIT", "DEFAULT"


class InvalidContext(InvalidInput):
    """An evaluation context OFREP calls INVALID_CONTEXT."""

    code = "INVALID_CONTEXT"
    http_status = 400


@dataclass(frozen=True)
class Rules:
    """What a flag says, checked: the page, pipeline.toml and the use-cases share it."""

    description: str = ""
    default: bool = False
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    percentage: int = 0

    def as_data(self) -> dict[str, Any]:
        """As FeatureFlag.rules() gives them (lists, JSON-ready)."""
        return {**asdict(self), "users": list(self.users), "groups": list(self.groups)}


def rules_problem(field: str, value: Any) -> str | None:
    """Why `value` cannot be a flag's `field`, or None. One rule for every way in."""
    if field == "key":
        if not isinstance(value, str) or not KEY_RE.fullmatch(value):
            return 'may hold only letters, digits, "-" and "_" (1 to 64 of them)'
    elif field == "description":
        if not isinstance(value, str):
            return "must be a string"
        if len(value) > MAX_DESCRIPTION:
            return f"is longer than {MAX_DESCRIPTION} characters"
    elif field == "default":
        if not isinstance(value, bool):
            return "must be true or false"
    elif field in ("users", "groups"):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            return "must be a list of strings"
        if len(value) > MAX_NAMES:
            return f"may list at most {MAX_NAMES} names"
        for name in value:
            if not name.strip() or len(name) > MAX_NAME_LENGTH or not name.isprintable():
                return f"has a name that is empty, longer than {MAX_NAME_LENGTH} or unprintable"
    elif field == "percentage":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            return "must be a whole number from 0 to 100"
    return None


def checked_rules(**values: Any) -> Rules:
    """Rules from raw values; raises InvalidInput naming the first bad field."""
    for field, value in values.items():
        problem = rules_problem(field, value)
        if problem:
            raise InvalidInput(f"{field} {problem}.", field=field)
    for field in ("users", "groups"):
        if field in values:  # the same name twice means nothing more
            values[field] = tuple(dict.fromkeys(name.strip() for name in values[field]))
    return Rules(**values)


def split_names(text: str) -> list[str]:
    """Names typed in a text box, separated by commas or new lines."""
    return [name.strip() for name in re.split(r"[,\n]", text) if name.strip()]


# Evaluation


@dataclass(frozen=True)
class Evaluation:
    key: str
    value: bool
    reason: str

    @property
    def variant(self) -> str:
        return "on" if self.value else "off"

    def as_ofrep(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "reason": self.reason,
            "variant": self.variant,
            "metadata": {},
        }


@dataclass(frozen=True)
class Context:
    targeting_key: str | None
    groups: frozenset[str]


def parse_context(data: Any) -> Context:
    """The OFREP evaluation context, bounded; raises InvalidContext."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidContext("context must be a JSON object.")
    key = data.get("targetingKey")
    if key is not None and (not isinstance(key, str) or len(key) > MAX_TARGETING_KEY):
        raise InvalidContext(f"targetingKey must be a string of at most {MAX_TARGETING_KEY}.")
    groups = data.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise InvalidContext("groups must be a list of strings.")
    if len(groups) > MAX_CONTEXT_GROUPS:
        raise InvalidContext(f"groups may list at most {MAX_CONTEXT_GROUPS} names.")
    return Context(targeting_key=key or None, groups=frozenset(groups))


def evaluate(flag: FeatureFlag, context: Context) -> Evaluation:
    if context.targeting_key is not None and context.targeting_key in flag.users:
        return Evaluation(flag.key, True, TARGETING_MATCH)
    if context.groups & set(flag.groups):
        return Evaluation(flag.key, True, TARGETING_MATCH)
    if context.targeting_key is not None and in_rollout(flag, context.targeting_key):
        return Evaluation(flag.key, True, SPLIT)
    has_rules = flag.users or flag.groups or flag.percentage
    return Evaluation(flag.key, flag.default, DEFAULT if has_rules else STATIC)


def in_rollout(flag: FeatureFlag, targeting_key: str) -> bool:
    """Whether the key is in the flag's percentage: the same answer on every server and
    every day, and independent between flags (the flag's key is part of the hash)."""
    if flag.percentage <= 0:
        return False
    digest = hashlib.sha256(f"{flag.key}\x00{targeting_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < flag.percentage


# Changing flags


def _require_editor(user: AbstractBaseUser | None) -> None:
    if user is not None and not can_edit_flags(user):
        raise PermissionDenied("Only team leads and QA may change feature flags.")


def create_flag(
    env: Environment, key: str, rules: Rules, *, by: AbstractBaseUser | None
) -> FeatureFlag:
    _require_editor(by)
    problem = rules_problem("key", key)
    if problem:
        raise InvalidInput(f"key {problem}.", field="key")
    with transaction.atomic():
        Environment.objects.select_for_update().filter(pk=env.pk).first()
        if env.flags.filter(key=key).exists():
            raise InvalidInput(f"{env.name} already has a flag {key!r}.", field="key")
        if env.flags.count() >= MAX_FLAGS:
            raise InvalidInput(f"{env.name} has {MAX_FLAGS} flags already, the most it takes.")
        flag = FeatureFlag.objects.create(environment=env, key=key, **rules.as_data())
        audit.record(
            "flag_created",
            f"Flag {key} created on {env.name}: {describe(flag)}",
            pipeline=env.pipeline,
            environment=env,
            actor=by,
            flag=key,
            after=flag.rules(),
        )
    return flag


def update_flag(
    flag: FeatureFlag, rules: Rules, *, by: AbstractBaseUser | None, source: str = ""
) -> bool:
    """Give the flag these rules; True if anything changed (then it is audited)."""
    _require_editor(by)
    with transaction.atomic():
        flag = (
            FeatureFlag.objects.select_for_update()
            .select_related("environment__pipeline")
            .get(pk=flag.pk)
        )
        before = flag.rules()
        for name, value in rules.as_data().items():
            setattr(flag, name, value)
        after = flag.rules()
        if after == before:
            return False
        flag.save()
        env = flag.environment
        changed = ", ".join(name for name in after if after[name] != before[name])
        origin = f" from {source}" if source else ""
        audit.record(
            "flag_changed",
            f"Flag {flag.key} on {env.name} changed{origin} ({changed}): {describe(flag)}",
            pipeline=env.pipeline,
            environment=env,
            actor=by,
            flag=flag.key,
            before=before,
            after=after,
        )
    return True


def describe(flag: FeatureFlag) -> str:
    """ "on for users ann; groups qa; 10 %; else off" — the rules in a few words."""
    parts = []
    if flag.users:
        parts.append("users " + ", ".join(flag.users))
    if flag.groups:
        parts.append("groups " + ", ".join(flag.groups))
    if flag.percentage:
        parts.append(f"{flag.percentage} %")
    default = "on" if flag.default else "off"
    if not parts:
        return f"{default} for everyone"
    return f"on for {'; '.join(parts)}; else {default}"
