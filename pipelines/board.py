"""The board's read model: one card per environment, in a constant number of queries."""

from dataclasses import dataclass, field
from functools import cached_property

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import prefetch_related_objects

from pipelines.checklist import ChecklistState, evaluate, items_with_latest_signoff
from pipelines.drivers.blue_green import Slot, slots_of
from pipelines.freeze_windows import Window
from pipelines.freezes import FreezeOutlook, outlook
from pipelines.models import (
    Artifact,
    Build,
    ChecklistItem,
    Deployment,
    Environment,
    Lock,
    Pipeline,
    Probe,
    Release,
)
from pipelines.models.queries import (
    Columns,
    Span,
    constants,
    count_in_spans,
    placeholders,
    read_rows,
    table,
)
from pipelines.pins import held_builds
from pipelines.quality import QualityDiff, quality_diffs
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

    @cached_property  # read a dozen times per card; the card is made whole before it is shown
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

    @cached_property
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


@dataclass
class Board:
    """What the board shows: the cards, and the pipeline's freezes said once above them."""

    cards: list[EnvironmentCard]
    freeze: Lock | None  # a lead's freeze of the whole pipeline
    scheduled: FreezeOutlook  # the [[pipeline.freezes]] windows


def environment_cards(pipeline: Pipeline, *, insight: bool = True) -> list[EnvironmentCard]:
    """Every environment's card. `insight=False` leaves out what only the board shows (builds
    ahead, quality diffs, trends, the last and the settled deployment): the API's read of what
    runs where needs none of it, and it is most of the work (docs/architecture.md)."""
    return read_board(pipeline, insight=insight).cards


def read_board(pipeline: Pipeline, *, insight: bool = True) -> Board:
    """The cards and the freezes, the freeze taken from the locks the cards read (no query
    of its own)."""
    environments = _environments_of(pipeline)
    for relation in ("waiting_build", "pinned_by", "template"):  # a query only if one is set
        prefetch_related_objects(
            [e for e in environments if getattr(e, f"{relation}_id")], relation
        )
    environments_by_pk = {env.pk: env for env in environments}
    for env in environments:  # promoted from one of these: no query for it
        if env.promote_from_id in environments_by_pk:
            env.promote_from = environments_by_pk[env.promote_from_id]
    shown = _deployments_shown(list(environments_by_pk), insight=insight)
    checklists = items_with_latest_signoff(list(environments_by_pk))
    locks = list(pipeline.locks.select_related("owner"))
    freeze = next((lock for lock in locks if lock.environment_id is None), None)
    env_locks = {lock.environment_id: lock for lock in locks if lock.environment_id}

    freezes = outlook(pipeline)  # the [[pipeline.freezes]] rules, evaluated once
    cards = []
    for env in environments:
        release = env.current_release
        checklist = checklists.get(env.pk, [])
        for item in checklist:
            item.environment = env
        cards.append(
            EnvironmentCard(
                environment=env,
                release=release,
                active_deployment=shown.active.get(env.pk),
                lock=env_locks.get(env.pk, freeze),
                downstream=_downstream_of(env, environments),
                commit_url=commit_url(pipeline.repository_url, release.build.sha)
                if release
                else None,
                checklist=checklist,
                held=held_builds(env) if env.pinned_at else [],
                freeze_window=freezes.window_for(env.name),
                settled=shown.settled.get(env.pk),
                last_deployment=shown.last_ended.get(env.pk),
            )
        )
    releases = {card.environment.pk: card.release for card in cards}
    for card in cards:
        if card.environment.promote_from_id:
            card.candidate = releases.get(card.environment.promote_from_id)
            card.checklist_state = evaluate(card.environment, card.checklist, card.candidate)
    if insight:
        _add_insight(pipeline, cards)
    return Board(_branches_after_their_template(cards), freeze, freezes)


def _environments_of(pipeline: Pipeline) -> list[Environment]:
    """The pipeline's environments in order, each with its current release (its build,
    artifact and author) and its drift probe, as select_related would load them, in one
    query: compiling that queryset took longer than running it (docs/architecture.md)."""
    env, release = Columns(Environment, "e"), Columns(Release, "r")
    build, artifact = Columns(Build, "b"), Columns(Artifact, "a")
    author, probe = Columns(get_user_model(), "u"), Columns(Probe, "p")
    q = connection.ops.quote_name
    sql = (
        f"SELECT {env.select}, {release.select}, {build.select}, {artifact.select}, "
        f"{author.select}, {probe.select} FROM {table(Environment)} e "
        f"LEFT JOIN {table(Release)} r ON r.{q('id')} = e.{q('current_release_id')} "
        f"LEFT JOIN {table(Build)} b ON b.{q('id')} = r.{q('build_id')} "
        f"LEFT JOIN {table(Artifact)} a ON a.{q('id')} = r.{q('artifact_id')} "
        f"LEFT JOIN {table(get_user_model())} u ON u.{q('id')} = r.{q('created_by_id')} "
        f"LEFT JOIN {table(Probe)} p ON p.{q('environment_id')} = e.{q('id')} "
        # Environments in use (Environment.objects: a deleted branch environment is not).
        f"WHERE e.{q('pipeline_id')} = %s AND e.{q('removed_at')} IS NULL "
        f"ORDER BY e.{q('position')}, e.{q('name')}"
    )
    columns = [env, release, build, artifact, author, probe]
    environments = []
    for found, current, its_build, its_artifact, its_author, its_probe in read_rows(
        sql, [pipeline.pk], columns
    ):
        found.pipeline = pipeline
        if current is not None:
            current.build, current.artifact, current.created_by = (
                its_build,
                its_artifact,
                its_author,
            )
        found.current_release = current
        Environment.probe.related.set_cached_value(found, its_probe)  # None: no probe yet
        environments.append(found)
    return environments


@dataclass
class _Shown:
    """The deployments the cards show, by environment id."""

    active: dict[int, Deployment] = field(default_factory=dict)
    last_ended: dict[int, Deployment] = field(default_factory=dict)  # newest that has ended
    settled: dict[int, Deployment] = field(default_factory=dict)  # newest, if the reaper settled it


def _deployments_shown(environment_ids: list[int], *, insight: bool) -> _Shown:
    """Each environment's active deployment (its oldest active one) and, with `insight`, its
    newest deployment and its newest ended one, each with its release and build, in one query:
    the active ones from their partial index, the newest by an index probe each."""
    shown = _Shown()
    if not environment_ids:
        return shown
    deployment, release, build = (
        Columns(Deployment, "d"),
        Columns(Release, "r"),
        Columns(Build, "b"),
    )
    q = connection.ops.quote_name
    deployments = table(Deployment)
    select = (
        f"SELECT {deployment.select}, {release.select}, {build.select} FROM {deployments} d "
        f"LEFT JOIN {table(Release)} r ON r.{q('id')} = d.{q('release_id')} "
        f"LEFT JOIN {table(Build)} b ON b.{q('id')} = r.{q('build_id')} "
    )
    active = constants(sorted(ACTIVE_STATUSES))
    sql = (
        f"{select} WHERE d.{q('environment_id')} IN ({placeholders(environment_ids)}) "
        f"AND d.{q('status')} IN ({active})"
    )
    params = list(environment_ids)
    if insight:
        newest = (
            f"(SELECT x.{q('id')} FROM {deployments} x WHERE x.{q('environment_id')} = %s{{}} "
            f"ORDER BY x.{q('created_at')} DESC, x.{q('id')} DESC LIMIT 1)"
        )
        ended = f" AND x.{q('status')} NOT IN ({active})"
        probes = [newest.format(""), newest.format(ended)] * len(environment_ids)
        sql += f" UNION ALL {select} WHERE d.{q('id')} IN ({', '.join(probes)})"
        for env_id in environment_ids:
            params += [env_id, env_id]
    rows = {}
    for found, its_release, its_build in read_rows(sql, params, [deployment, release, build]):
        if its_release is not None:
            its_release.build = its_build
        found.release = its_release
        rows[found.pk] = found
    newest_first = sorted(rows.values(), key=lambda d: (d.created_at, d.pk), reverse=True)
    newest_seen = set()
    for found in newest_first:
        env_id = found.environment_id
        if insight and env_id not in newest_seen and found.settled:
            shown.settled[env_id] = found
        newest_seen.add(env_id)
        if found.status in ACTIVE_STATUSES:
            shown.active[env_id] = found  # the oldest active one stays
        elif insight and env_id not in shown.last_ended:
            shown.last_ended[env_id] = found
    prefetch_related_objects(list(shown.active.values()), "steps")
    return shown


def _add_insight(pipeline: Pipeline, cards: list[EnvironmentCard]) -> None:
    """The board's reading of the cards: builds ahead of downstream, the quality diff of
    each promotion and the recent releases' trend."""
    _count_builds_ahead(pipeline, cards)
    promoted = [c for c in cards if c.environment.promote_from_id]
    diffs = quality_diffs([(c.environment, c.release, c.candidate) for c in promoted])
    for card in promoted:
        card.quality = diffs[card.environment.pk]
    recent = recent_releases([card.environment.pk for card in cards])
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
    counted = []
    for card in cards:
        downstream = by_env.get(card.downstream.pk) if card.downstream else None
        if not (card.build and downstream and downstream.build):
            continue
        head, base = card.build, downstream.build
        card.compare_url = (
            compare_url(pipeline.repository_url, base.sha, head.sha) if head != base else None
        )
        counted.append((card, Span(pipeline.pk, head.branch, base.created_at, head.created_at)))
    totals = count_in_spans([span for _, span in counted])
    for (card, _), total in zip(counted, totals, strict=True):
        card.ahead = total
