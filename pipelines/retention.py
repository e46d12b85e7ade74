"""Retention: what `python manage.py prune` (and, if scheduled, Celery beat) removes.

- artifacts that no release references and no build newer than SLIPWAY_KEEP_BUILD_DAYS
  carries (an older build then shows no artifact), and stored files without a row;
- release directories of `local` targets beyond the newest SLIPWAY_KEEP_RELEASES — never
  the one `current` points to, nor the current or previous release of the environment,
  nor the one a running deployment makes;
- leftovers of a kill: `.partial` uploads and half-unpacked release directories, once
  nothing is writing them (no active deployment; an hour without a write for uploads);
- log lines of deployments that ended more than SLIPWAY_KEEP_LOG_DAYS ago.

See docs/operations.md.
"""

import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from pipelines.artifacts import artifact_path, store_root
from pipelines.drivers.local import CURRENT, target_path
from pipelines.models import Artifact, Build, Deployment, Environment, LogLine
from pipelines.models.deployments import ACTIVE_STATUSES

logger = logging.getLogger(__name__)

# A `.partial` upload untouched for this long has nobody writing it any more.
LEFTOVER_AGE_SECONDS = 3600
RELEASE_DIR = re.compile(r"v([0-9]+)")
STORED_FILE = re.compile(r"([0-9a-f]{64})\.tar\.gz")


@dataclass
class Pruned:
    artifacts: list[str] = field(default_factory=list)
    release_dirs: list[Path] = field(default_factory=list)
    leftovers: list[Path] = field(default_factory=list)
    log_lines: int = 0

    def __str__(self) -> str:
        return (
            f"{len(self.artifacts)} artifacts, {len(self.release_dirs)} release directories, "
            f"{len(self.leftovers)} leftovers and {self.log_lines:,} log lines removed"
        )


def prune(now: datetime | None = None) -> Pruned:
    now = now or timezone.now()
    pruned = Pruned()
    _prune_artifacts(now, pruned)
    for env in Environment.objects.filter(driver="local").select_related("current_release"):
        _prune_target(env, pruned)
    _prune_partial_uploads(pruned)
    cutoff = now - timedelta(days=settings.SLIPWAY_KEEP_LOG_DAYS)
    pruned.log_lines, _ = LogLine.objects.filter(deployment__finished_at__lt=cutoff).delete()
    logger.info("prune: %s", pruned)
    return pruned


@shared_task(name="pipelines.prune")
def prune_task() -> str:
    return str(prune())


def _prune_artifacts(now: datetime, pruned: Pruned) -> None:
    recent = now - timedelta(days=settings.SLIPWAY_KEEP_BUILD_DAYS)
    unused = Artifact.objects.filter(releases__isnull=True).exclude(builds__created_at__gte=recent)
    for artifact in unused.distinct():
        try:
            with transaction.atomic():
                Build.objects.filter(artifact=artifact).update(artifact=None)
                artifact.delete()  # a release made of it meanwhile protects it
        except ProtectedError:
            continue
        artifact_path(artifact.digest).unlink(missing_ok=True)
        pruned.artifacts.append(artifact.digest)
    known = {d.removeprefix("sha256:") for d in Artifact.objects.values_list("digest", flat=True)}
    for path in (store_root() / "sha256").glob("*/*.tar.gz"):
        match = STORED_FILE.fullmatch(path.name)
        # A file whose row is not written yet (an upload finishing) is younger than this.
        if match and match[1] not in known and _untouched_for(path, LEFTOVER_AGE_SECONDS):
            path.unlink(missing_ok=True)
            pruned.artifacts.append(f"sha256:{match[1]}")


def _prune_target(env: Environment, pruned: Pruned) -> None:
    path = (env.driver_settings or {}).get("path")
    target = target_path(str(path)) if path else None
    releases = target / "releases" if target else None
    if releases is None or not releases.is_dir():
        return
    active = Deployment.objects.filter(environment=env, status__in=ACTIVE_STATUSES)
    if active.exists():
        return  # its runner may be unpacking or switching right now
    keep = {_current_dir(target)}
    keep.update(f"v{r.version}" for r in _current_and_previous(env))
    numbered = sorted(
        (int(m[1]), entry.name)
        for entry in releases.iterdir()
        if (m := RELEASE_DIR.fullmatch(entry.name)) and entry.is_dir()
    )
    newest = numbered[max(len(numbered) - settings.SLIPWAY_KEEP_RELEASES, 0) :]
    keep.update(name for _, name in newest)
    for _, name in numbered:
        if name not in keep:
            shutil.rmtree(releases / name, ignore_errors=True)
            pruned.release_dirs.append(releases / name)
    for entry in releases.iterdir():
        if entry.name.startswith(".") or ".old-" in entry.name:  # half-unpacked, set aside
            shutil.rmtree(entry, ignore_errors=True)
            pruned.leftovers.append(entry)
    for link in target.glob(f".{CURRENT}-*"):  # a switch cut short before its rename
        link.unlink(missing_ok=True)
        pruned.leftovers.append(link)


def _current_dir(target: Path) -> str:
    current = target / CURRENT
    return Path(os.readlink(current)).name if current.is_symlink() else ""


def _current_and_previous(env: Environment) -> list:
    deployed = env.releases.filter(deployed_at__isnull=False).order_by("-deployed_at")
    if env.current_release_id:
        deployed = deployed.exclude(pk=env.current_release_id)
        return [env.current_release, *deployed[:1]]
    return list(deployed[:1])


def _prune_partial_uploads(pruned: Pruned) -> None:
    for partial in (store_root() / "tmp").glob("*.partial"):
        if _untouched_for(partial, LEFTOVER_AGE_SECONDS):
            partial.unlink(missing_ok=True)
            pruned.leftovers.append(partial)


def _untouched_for(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except FileNotFoundError:
        return False
