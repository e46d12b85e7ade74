"""The board's read model: one card per environment, in a constant number of queries."""

from dataclasses import dataclass, field
from functools import cached_property

from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce

from pipelines.checklist import ChecklistState, active_items_with_latest_signoff, evaluate
from pipelines.drivers.blue_green import Slot, slots_of
from pipelines.freeze_windows import Window
from pipelines.freezes import outlook
from pipelines.models import (
    Build,
    ChecklistItem,
    Deployment,
    Environment,
    Lock,
    Pipeline,
    Probe,
    Release,
)
from pipelines.pins import held_builds
from pipelines.quality import QualityDiff, builds_between, quality_diffs
from pipelines.repository import commit_url, compare_url
from pipelines.statuses import ACTIVE_STATUSES, DeploymentStatus, progress
from pipelines.trends import Trend, recent_releases, trend_of

FAILED_STATUSES = (DeploymentStatus.FAILED, DeploymentStatus.INTERRUPTED)


@dataclass
class EnvironmentCard:
    environment: Environment
    release: Release | None
    active_deployment: Deployment | None = None
    lock: Lock | None = None
    downstream: Environment | None = None
    # Builds this environment runs that `downstream` does not yet (None: nothing to compare).
    ahead: int | None = None
    commit_url: str | None = None
    compare_url: str | None = None
    checklist: list[ChecklistItem] = field(default_factory=list)
    # For an environment promoted from another: what that one runs now.
    candidate: Release | None = None
    # …and whether each checklist item counts for promoting that candidate, or why not.
    checklist_state: ChecklistState | None = None
    # What promoting would bring: the candidate's builds not here yet, and the compare link.
    candidate_ahead: int | None = None
    candidate_compare_url: str | None = None
    # Pinned by a rollback: the passing builds waiting for a lead to unpin, newest first.
    held: list[Build] = field(default_factory=list)
    # …and how its tests and coverage compare with what runs here (the quality diff).
    quality: QualityDiff | None = None
    # Coverage and test count of the recent releases here, and against `downstream`.
    trend: Trend | None = None
    # The last deployment, when the reaper settled it after its runner died: what was done.
    settled: Deployment | None = None
    # The newest deployment that has ended (a failed one leaves the release before it serving).
    last_deployment: Deployment | None = None
    # A per-branch template: the cards of the environments made from it (by name).
    branches: list["EnvironmentCard"] = field(default_factory=list)
    # The scheduled freeze window holding here now ([[pipeline.freezes]], pipelines/freezes.py).
    freeze_window: Window | None = None

    @property
    def build(self) -> Build | None:
        return self.release.build if self.release else None

    @property
    def state(self) -> str:
        """What the card's status pill says, the most pressing first: deploying, failed,
        locked, frozen, healthy (or empty: nothing deployed yet)."""
        if self.active_deployment:
            return "deploying"
        if self.last_deployment and self.last_deployment.status in FAILED_STATUSES:
            return "failed"
        if self.lock:
            return "locked" if self.lock.environment_id else "frozen"
        if self.freeze_window:
            return "frozen"
        return "healthy" if self.release else "empty"

    @property
    def progress(self) -> tuple[int, int]:
        """(k, n) of the active deployment's "step k of n"; (0, 0) before it has steps."""
        if not self.active_deployment:
            return 0, 0
        return progress(list(self.active_deployment.steps.all()))

    @property
    def up_to_date(self) -> bool:
        """A promoted environment that already runs its candidate's build."""
        return bool(
            self.candidate and self.release and self.release.build_id == self.candidate.build_id
        )

    @property
    def name(self) -> str:
        return self.environment.name

    @cached_property
    def slots(self) -> list[Slot]:
        """Blue-green: each slot, whether it is live and what it runs (else empty)."""
        return slots_of(self.environment)

    @property
    def probe(self) -> Probe | None:
        """The drift probe's last finding, for environments with a version_url."""
        if not self.environment.version_url:
            return None
        return getattr(self.environment, "probe", None)


def environment_cards(pipeline: Pipeline, *, insight: bool = True) -> list[EnvironmentCard]:
    """Every environment's card. `insight=False` leaves out what only the board shows (builds
    ahead, quality diffs, trends, the last and the settled deployment): the API's read of what
    runs where needs none of it, and it is most of the work (docs/architecture.md)."""
    environments = pipeline.environments.all()
    if insight:
        ended = Deployment.objects.filter(environment=OuterRef("pk")).exclude(
            status__in=ACTIVE_STATUSES
        )
        environments = environments.annotate(
            last_deployment_id=Subquery(ended.order_by("-created_at", "-id").values("pk")[:1])
        )
    environments = list(
        environments
        # A join of every relation takes PostgreSQL longer to plan (~15 ms) than to run: the
        # release's join here, the rest by primary key (none queried when all are empty).
        .select_related(
            "current_release__build",
            "current_release__artifact",
            "current_release__created_by",
            "probe",
        )
        .prefetch_related(
            "waiting_build",
            "pinned_by",
            "template",
            Prefetch("checklist_items", queryset=active_items_with_latest_signoff()),
        )
        .order_by("position", "name")  # one pipeline's: no join for the pipeline's name
    )
    environments_by_pk = {env.pk: env for env in environments}
    for env in environments:  # promoted from one of these: no query for it
        if env.promote_from_id in environments_by_pk:
            env.promote_from = environments_by_pk[env.promote_from_id]
    active = {
        d.environment_id: d
        for d in Deployment.objects.filter(
            environment__pipeline=pipeline, status__in=ACTIVE_STATUSES
        )
        .select_related("release__build")
        .prefetch_related("steps")
    }
    locks = list(pipeline.locks.select_related("owner"))
    freeze = next((lock for lock in locks if lock.environment_id is None), None)
    env_locks = {lock.environment_id: lock for lock in locks if lock.environment_id}

    freezes = outlook(pipeline)  # the [[pipeline.freezes]] rules, evaluated once
    cards = []
    for env in environments:
        release = env.current_release
        cards.append(
            EnvironmentCard(
                environment=env,
                release=release,
                active_deployment=active.get(env.pk),
                lock=env_locks.get(env.pk, freeze),
                downstream=_downstream_of(env, environments),
                commit_url=commit_url(pipeline.repository_url, release.build.sha)
                if release
                else None,
                checklist=list(env.checklist_items.all()),
                held=held_builds(env) if env.pinned_at else [],
                freeze_window=freezes.window_for(env.name),
            )
        )
    releases = {card.environment.pk: card.release for card in cards}
    for card in cards:
        if card.environment.promote_from_id:
            card.candidate = releases.get(card.environment.promote_from_id)
            card.checklist_state = evaluate(card.environment, card.checklist, card.candidate)
    if insight:
        _add_insight(pipeline, cards, environments)
    return _branches_after_their_template(cards)


def _add_insight(
    pipeline: Pipeline, cards: list[EnvironmentCard], environments: list[Environment]
) -> None:
    """The board's reading of the cards: the last and the settled deployment, builds ahead
    of downstream, the quality diff of each promotion and the recent releases' trend."""
    last_deployments = Deployment.objects.filter(environment=OuterRef("pk")).order_by(
        "-created_at", "-id"
    )
    settled = {
        d.environment_id: d
        for d in Deployment.objects.filter(
            pk__in=Subquery(
                pipeline.environments.annotate(last=Subquery(last_deployments.values("pk")[:1]))
                .exclude(last=None)
                .values("last")
            )
        ).exclude(settled="")
    }
    last = Deployment.objects.select_related("release").in_bulk(
        [env.last_deployment_id for env in environments if env.last_deployment_id]
    )
    for card in cards:
        card.settled = settled.get(card.environment.pk)
        card.last_deployment = last.get(card.environment.last_deployment_id)
    _count_builds_ahead(pipeline, cards)
    promoted = [c for c in cards if c.environment.promote_from_id]
    diffs = quality_diffs([(c.environment, c.release, c.candidate) for c in promoted])
    for card in promoted:
        card.quality = diffs[card.environment.pk]
    recent = recent_releases(pipeline)
    for card in cards:
        downstream = _card_for(cards, card.downstream)
        card.trend = trend_of(
            recent.get(card.environment.pk, []),
            card.build,
            (downstream.name, downstream.build) if downstream else None,
        )
    by_pk = {card.environment.pk: card for card in cards}
    for card in cards:
        source = by_pk.get(card.environment.promote_from_id)
        if source and source.downstream and source.downstream.pk == card.environment.pk:
            card.candidate_ahead, card.candidate_compare_url = source.ahead, source.compare_url


def _branches_after_their_template(cards: list[EnvironmentCard]) -> list[EnvironmentCard]:
    """Each template's branch environments right after it, by name (docs/branch-environments.md)."""
    made_from: dict[int, list[EnvironmentCard]] = {}
    for card in cards:
        if card.environment.template_id:
            made_from.setdefault(card.environment.template_id, []).append(card)
    ordered = []
    for card in cards:
        if card.environment.template_id:
            continue
        card.branches = sorted(made_from.get(card.environment.pk, []), key=lambda c: c.name)
        ordered += [card, *card.branches]
    return ordered


def _card_for(cards: list[EnvironmentCard], env: Environment | None) -> EnvironmentCard | None:
    return next((c for c in cards if env and c.environment.pk == env.pk), None)


def _downstream_of(env: Environment, environments: list[Environment]) -> Environment | None:
    """The environment that promotes from `env`, else the next one in pipeline order."""
    promoted = [e for e in environments if e.promote_from_id == env.pk]
    if promoted:
        return promoted[0]
    later = [e for e in environments if e.position > env.position]
    return later[0] if later else None


def _count_builds_ahead(pipeline: Pipeline, cards: list[EnvironmentCard]) -> None:
    """Fill `ahead` for every card in one query: a count per card over its branch's builds
    between the two releases, each a range of the (pipeline, branch, created_at) index, so
    the cost follows the distance between environments, not the pipeline's history."""
    by_env = {card.environment.pk: card for card in cards}
    counts = {}
    for card in cards:
        downstream = by_env.get(card.downstream.pk) if card.downstream else None
        if not (card.build and downstream and downstream.build):
            continue
        head, base = card.build, downstream.build
        card.compare_url = (
            compare_url(pipeline.repository_url, base.sha, head.sha) if head != base else None
        )
        between = Build.objects.filter(builds_between(base, head), pipeline=pipeline)
        count = between.order_by().values("pipeline").annotate(n=Count("pk")).values("n")
        counts[f"env_{card.environment.pk}"] = Coalesce(Subquery(count), 0)
    if not counts:
        return
    totals = Pipeline.objects.filter(pk=pipeline.pk).values(**counts).get()
    for key, total in totals.items():
        by_env[int(key.removeprefix("env_"))].ahead = total
