"""Writing a checked pipeline config to the database, in one transaction."""

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from pipelines.audit import record
from pipelines.branch_environments import refresh_from_template
from pipelines.config.schema import ChecklistItemConfig, FlagConfig, PipelineConfig
from pipelines.errors import ConfigError
from pipelines.flags import create_flag, update_flag
from pipelines.models import ChecklistItem, Environment, FeatureFlag, Pipeline

logger = logging.getLogger(__name__)


@dataclass
class LoadReport:
    """What `apply_pipeline` did. Checklist items are named "environment/key"."""

    pipeline: Pipeline
    source: str
    pipeline_created: bool = False
    pipeline_updated: bool = False
    environments_created: list[str] = field(default_factory=list)
    environments_updated: list[str] = field(default_factory=list)
    environments_unchanged: list[str] = field(default_factory=list)
    items_created: list[str] = field(default_factory=list)
    items_updated: list[str] = field(default_factory=list)
    environments_left_out: list[str] = field(default_factory=list)
    items_left_out: list[str] = field(default_factory=list)
    flags_created: list[str] = field(default_factory=list)
    flags_updated: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: "webshop (updated from x.toml): environments 1 created (qa), 0 updated, …"."""

        def count(names: list[str], what: str) -> str:
            return f"{len(names)} {what}" + (f" ({', '.join(names)})" if names else "")

        environments = ", ".join(
            [
                count(self.environments_created, "created"),
                count(self.environments_updated, "updated"),
                f"{len(self.environments_unchanged)} unchanged",
            ]
        )
        items = f"{len(self.items_created)} created, {len(self.items_updated)} updated"
        flags = ""
        if self.flags_created or self.flags_updated:
            flags = f"; flags {count(self.flags_created, 'created')}, "
            flags += count(self.flags_updated, "updated")
        return (
            f"{self.pipeline.name} ({self.outcome} from {self.source}): "
            f"environments {environments}; checklist items {items}{flags}"
        )

    @property
    def outcome(self) -> str:
        if self.pipeline_created:
            return "created"
        changes = (self.environments_created, self.environments_updated)
        changes += (self.items_created, self.items_updated, self.flags_created, self.flags_updated)
        return "updated" if self.pipeline_updated or any(changes) else "unchanged"

    def warnings(self) -> list[str]:
        found = []
        if self.environments_left_out:
            found.append(
                f"{self.pipeline.name}: environments not in {self.source} were kept (loading "
                f"never deletes them): {', '.join(self.environments_left_out)}"
            )
        if self.items_left_out:
            found.append(
                f"{self.pipeline.name}: checklist items not in {self.source} were retired (kept "
                f"with their history, no longer gating promotion): {', '.join(self.items_left_out)}"
            )
        return found

    def as_data(self) -> dict[str, Any]:
        """The report as JSON-ready data, for the audit log."""
        return {
            "source": self.source,
            "outcome": self.outcome,
            "environments_created": self.environments_created,
            "environments_updated": self.environments_updated,
            "items_created": self.items_created,
            "items_updated": self.items_updated,
            "environments_left_out": self.environments_left_out,
            "items_left_out": self.items_left_out,
            "flags_created": self.flags_created,
            "flags_updated": self.flags_updated,
        }


def apply_pipeline(config: PipelineConfig) -> LoadReport:
    """Write a checked config in one transaction, and record it in the audit log."""
    with transaction.atomic():
        pipeline, created = Pipeline.objects.select_for_update().get_or_create(
            name=config.name, defaults={"repository_url": config.repository_url}
        )
        report = LoadReport(pipeline=pipeline, source=config.source, pipeline_created=created)
        values = {"repository_url": config.repository_url}
        values["notifications"] = [dict(target) for target in config.notifications]
        values["public_badges"] = config.public_badges
        values["freezes"] = [dict(rule) for rule in config.freezes]
        if _assign(pipeline, **values):
            report.pipeline_updated = True
            pipeline.save()
        environments = _apply_environments(pipeline, config, report)
        for env_config in config.environments:
            _apply_checklist(environments[env_config.name], env_config.checklist, report)
            _apply_flags(environments[env_config.name], env_config.flags, report)
        record("pipeline_loaded", report.summary(), pipeline=pipeline, **report.as_data())
    return report


def load_config(config: PipelineConfig) -> Pipeline:
    report = apply_pipeline(config)
    for warning in report.warnings():
        logger.warning(warning)
    return report.pipeline


# Writing


def _assign(obj: Any, **values: Any) -> bool:
    """Set attributes; True if any of them changed."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _apply_environments(
    pipeline: Pipeline, config: PipelineConfig, report: LoadReport
) -> dict[str, Environment]:
    # Branch environments are made by builds, not by the file: loading keeps them as they are
    # (refreshed from their template) and never counts them as left out.
    existing = {env.name: env for env in pipeline.environments.filter(template__isnull=True)}
    made_for_branches = dict(
        pipeline.environments.exclude(template=None).values_list("name", "source_branch")
    )
    saved: dict[str, Environment] = {}
    changed: set[str] = set()
    for position, env_config in enumerate(config.environments):
        if env_config.name in made_for_branches:
            raise ConfigError(
                f'{config.source}: environment "{env_config.name}" is the environment of branch '
                f"{made_for_branches[env_config.name]!r}: delete it first (slipway env delete "
                f"{env_config.name}) or choose another name",
                source=config.source,
                environment=env_config.name,
                field="name",
            )
        env = existing.get(env_config.name) or Environment(pipeline=pipeline, name=env_config.name)
        is_new = env.pk is None
        if is_new:
            report.environments_created.append(env.name)
        changed_fields = _assign(
            env,
            position=position,
            branch=env_config.branch,
            driver=env_config.driver,
            driver_settings=env_config.driver_settings,
            version_url=env_config.version_url,
            version_field=env_config.version_field,
            probe_interval=env_config.probe_interval,
            command_env=env_config.env,
            secrets=env_config.secrets,
            per_branch=env_config.per_branch,
            branch_settings=env_config.branch_settings,
        )
        if changed_fields or is_new:
            changed.add(env.name)
            env.save()
        saved[env.name] = env
    # promote_from may name an environment further down the file: link once all exist.
    for env_config in config.environments:
        env = saved[env_config.name]
        upstream = saved[env_config.promote_from].pk if env_config.promote_from else None
        if _assign(env, promote_from_id=upstream):
            changed.add(env.name)
            env.save(update_fields=["promote_from"])
    for name in saved:
        if name not in report.environments_created:
            done = report.environments_updated if name in changed else report.environments_unchanged
            done.append(name)
    report.environments_left_out = [name for name in existing if name not in saved]
    for name in changed:
        if saved[name].per_branch:
            refresh_from_template(saved[name])
    return saved


def _apply_checklist(
    env: Environment, items: tuple[ChecklistItemConfig, ...], report: LoadReport
) -> None:
    existing = {item.key: item for item in env.checklist_items.all()}
    for position, item_config in enumerate(items):
        item = existing.get(item_config.key) or ChecklistItem(environment=env, key=item_config.key)
        is_new = item.pk is None
        changed = _assign(
            item,
            label=item_config.label,
            role=item_config.role,
            valid_for=item_config.valid_for,
            position=position,
            retired_at=None,  # back in the file: it gates promotion again
        )
        if is_new or changed:
            item.save()
            done = report.items_created if is_new else report.items_updated
            done.append(f"{env.name}/{item.key}")
    in_file = {item.key for item in items}
    left_out = [item for key, item in existing.items() if key not in in_file]
    # Kept for their sign-off history, but retired: they no longer gate promotion.
    for item in left_out:
        if item.retired_at is None:
            item.retired_at = timezone.now()
            item.save(update_fields=["retired_at"])
    report.items_left_out += [f"{env.name}/{item.key}" for item in left_out]


def _apply_flags(env: Environment, flags: tuple[FlagConfig, ...], report: LoadReport) -> None:
    """Declared flags are created; a declaration that changed since the last load is
    applied; an unchanged one leaves what the flags page changed since. Never deletes."""
    existing = {flag.key: flag for flag in env.flags.all()}
    for flag_config in flags:
        declared = flag_config.rules.as_data()
        name = f"{env.name}/{flag_config.key}"
        flag = existing.get(flag_config.key)
        if flag is None:
            flag = create_flag(env, flag_config.key, flag_config.rules, by=None)
            report.flags_created.append(name)
        elif flag.declared != declared:
            if update_flag(flag, flag_config.rules, by=None, source=report.source):
                report.flags_updated.append(name)
        FeatureFlag.objects.filter(pk=flag.pk).update(declared=declared)
