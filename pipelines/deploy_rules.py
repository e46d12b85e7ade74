"""Who may deploy where, and what stops or lets through a deployment: the rules that
pipelines/deploys.py (and promotion.py) apply, each in one place (docs/security.md,
"guarded environments"; docs/freezes.md).

- A **guarded** environment (an active checklist) is reached by promotion: auto-deploy never
  goes there, and a person's deploy or rollback is a lead's break-glass, with a reason.
- A **pinned** environment (a rollback pinned it: pipelines/pins.py) holds auto-deploys until
  a lead unpins; a person's deploy still goes.
- A **freeze** window refuses every deployment unless a lead breaks the glass with a reason
  (pipelines/freezes.py); the same reason serves for a guarded environment's checklist.
"""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from pipelines import pins
from pipelines.errors import InvalidInput, PermissionDenied
from pipelines.models import Environment, ReleaseCause
from pipelines.roles import can_deploy, can_lead

MAX_REASON_CHARS = 200


def clean_reason(reason: str | None) -> str:
    """A break-glass reason as kept: one line, at most MAX_REASON_CHARS. The same rule for
    going around a checklist and for deploying inside a freeze window."""
    reason = " ".join((reason or "").split())
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(
            f"The reason is longer than {MAX_REASON_CHARS} characters.", field="reason"
        )
    return reason


@dataclass(frozen=True)
class BreakGlass:
    """What a person's deploy or rollback gives to go around the guards: `checklist`, the
    reason it goes around a guarded environment's checklist ("" where there is none); `freeze`,
    the reason offered to a freeze window (checked by freezes.check_not_frozen)."""

    checklist: str
    freeze: str

    def described(self, what: str, by: AbstractBaseUser) -> str:
        """The release's description: what it is, and the bypass the board shows."""
        if not self.checklist:
            return what
        return f"{what}: checklist bypassed by {by.get_username()} because {self.checklist}"


def break_glass(environment: Environment, reason: str | None, what: str) -> BreakGlass:
    """A manual deploy's or rollback's reason, checked: required where it goes around a
    checklist (`what` says what the person does: "deploy to", "roll back")."""
    reason = clean_reason(reason)
    guarded = environment.is_guarded()
    if guarded and not reason:
        raise InvalidInput(
            f"To {what} {environment.name} goes around its checklist: give a reason "
            "(it is shown on the board, kept in the audit log and announced).",
            field="reason",
        )
    return BreakGlass(checklist=reason if guarded else "", freeze=reason)


def check_may_deploy(environment: Environment, user: AbstractBaseUser) -> None:
    """A person's deploy of a build: developers where there is no checklist, leads anywhere."""
    guarded = environment.is_guarded()
    if not can_deploy(user, guarded=guarded):
        why = (
            "it has a checklist: only a lead deploys there (or promote it)"
            if guarded
            else "that takes the developer or lead role"
        )
        raise PermissionDenied(
            f"{user.get_username()} may not deploy to {environment.name}: {why}."
        )


def check_lead(user: AbstractBaseUser, doing: str) -> None:
    """Promoting, rolling back, unpinning, cancelling, locking and freezing are a lead's:
    `doing` names the act refused, and every entry point (API, page, CLI) shows this one
    message."""
    if not can_lead(user):
        raise PermissionDenied(f"{user.get_username()} may not {doing}: that takes the lead role.")


def auto_deploy_refusal(environment: Environment) -> str | None:
    """Why auto-deploy never goes to `environment`, or None: only promotion reaches a guarded
    one (the loader refuses a branch there too: pipelines/config/environments.py)."""
    if environment.is_guarded():
        return f"{environment.name} has a checklist: only promotion deploys there, never a branch"
    return None


def auto_deploy_held(environment: Environment) -> bool:
    """A rollback pinned `environment`: its auto-deploys wait until a lead unpins."""
    return pins.is_pinned(environment)


def auto_deployed(environment: Environment):
    """The releases auto-deploy made here, each build's once (one the runner refused for a
    freeze window is not one: the build deploys when the window ends, pipelines/thaw.py)."""
    return environment.releases.filter(cause=ReleaseCause.AUTO_DEPLOY).exclude(
        deployment__refused_by_freeze=True
    )
