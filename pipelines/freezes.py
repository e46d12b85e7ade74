"""Scheduled freezes (`[[pipeline.freezes]]`), enforced at the moment a deployment would start.

`request_deployment` (pipelines/deploys.py) asks `check_not_frozen` under the environment's
row lock — so a promotion, a manual deploy or a rollback is refused (423 `frozen`, with the
window) and an auto-deploy waits — and the runner asks again before it starts a queued one
(pipelines/runner/freeze_gate.py). A lead may break the glass with a reason: the same
break-glass reason a deploy to a guarded environment takes (issue 12), audited as
`freeze_bypassed` and announced as `freeze.bypassed`. docs/freezes.md.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from pipelines import audit
from pipelines.durations import describe_duration
from pipelines.errors import EnvironmentFrozen
from pipelines.freeze_windows import (
    Pairs,
    Window,
    active_in,
    active_window,
    describe,
    evaluate,
    next_in,
)
from pipelines.models import Deployment, Environment, Pipeline
from pipelines.roles import can_lead

BREAK_GLASS = "a lead may deploy anyway, giving a reason (break-glass)"
# The board announces the next window this long before it starts.
ANNOUNCED_AHEAD = timedelta(hours=24)


@dataclass(frozen=True)
class FreezeOutlook:
    """What the board and the API say of a pipeline's scheduled freezes."""

    active: Window | None
    next: Window | None
    at: datetime | None = None
    pairs: Pairs | None = None  # each rule's windows, for `window_for`

    def window_for(self, environment: str) -> Window | None:
        """The window holding on `environment` (the rules are evaluated once per outlook)."""
        return active_in(self.pairs, environment) if self.pairs else None

    @property
    def announced(self) -> Window | None:
        """The next window, when it starts within ANNOUNCED_AHEAD."""
        if self.next is None or self.at is None or self.next.start - self.at > ANNOUNCED_AHEAD:
            return None
        return self.next

    @property
    def starts_in(self) -> str:
        """ "2 h", "45 min": how long until the next window starts (to the minute)."""
        if self.next is None or self.at is None:
            return ""
        seconds = (self.next.start - self.at).total_seconds()
        return describe_duration(timedelta(minutes=max(round(seconds / 60), 1)))

    def as_data(self) -> dict:
        return {
            "active": self.active.as_data() if self.active else None,
            "next": self.next.as_data() if self.next else None,
        }


def window_on(environment: Environment, at: datetime | None = None) -> Window | None:
    """The scheduled freeze window holding on `environment` now (or at `at`)."""
    rules = environment.pipeline.freezes
    if not rules:
        return None
    return active_window(rules, environment.name, at or timezone.now())


def outlook(pipeline: Pipeline, at: datetime | None = None) -> FreezeOutlook:
    """The window holding now on any environment of `pipeline`, and the next one to start."""
    at = at or timezone.now()
    if not pipeline.freezes:
        return FreezeOutlook(None, None, at)
    pairs = evaluate(pipeline.freezes, at)
    return FreezeOutlook(active_in(pairs, None), next_in(pairs, None), at, pairs)


def check_not_frozen(
    environment: Environment, *, by: AbstractBaseUser | None, reason: str = ""
) -> Window | None:
    """Raise EnvironmentFrozen if a window holds on `environment`, unless a lead breaks the
    glass with a reason: then the window is returned (the caller records the bypass)."""
    window = window_on(environment)
    if window is None:
        return None
    if reason and by is not None and can_lead(by):
        return window
    refused = (
        "only a lead may break the glass"
        if reason and by is not None
        else "a lead may deploy anyway with a reason"
    )
    raise frozen_error(environment.name, window, refused)


def frozen_error(environment: str, window: Window, why: str = BREAK_GLASS) -> EnvironmentFrozen:
    return EnvironmentFrozen(
        f"{environment} is frozen until {describe(window.end)} ({window.reason}; since "
        f"{describe(window.start)}): deploys and promotions wait until then — {why}.",
        environment=environment,
        window=window.as_data(),
    )


def record_bypass(
    environment: Environment,
    window: Window,
    *,
    by: AbstractBaseUser,
    reason: str,
    deployment: Deployment,
    what: str,
) -> None:
    """Audit (and so announce, as `freeze.bypassed`) a lead's deploy inside a window."""
    Deployment.objects.filter(pk=deployment.pk).update(freeze_bypass_reason=reason)
    deployment.freeze_bypass_reason = reason
    audit.record(
        "freeze_bypassed",
        f"{environment.name}: freeze ({window.reason}, until {describe(window.end)}) broken by "
        f"{by.get_username()} because {reason} ({what})",
        pipeline=environment.pipeline,
        environment=environment,
        actor=by,
        deployment=deployment.pk,
        reason=reason,
        window=window.as_data(),
    )
