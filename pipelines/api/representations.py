"""How domain objects look in the API's JSON."""

from datetime import datetime
from typing import Any

from pipelines.board import EnvironmentCard
from pipelines.freezes import outlook
from pipelines.models import Artifact, Build, Deployment, Lock, Pipeline, Probe, Release


def timestamp(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def artifact_json(artifact: Artifact | None) -> dict[str, Any] | None:
    if artifact is None:
        return None
    return {"digest": artifact.digest, "size": artifact.size}


def build_json(build: Build) -> dict[str, Any]:
    return {
        "pipeline": build.pipeline.name,
        "sha": build.sha,
        "branch": build.branch,
        "message": build.message,
        "author": build.author,
        "url": build.url,
        "status": build.status,
        "tests": _tests_json(build),
        "coverage": float(build.coverage) if build.coverage is not None else None,
        "artifact": artifact_json(build.artifact),
        "created_at": timestamp(build.created_at),
        "updated_at": timestamp(build.updated_at),
    }


def _tests_json(build: Build) -> dict[str, int] | None:
    if build.tests_total is None:
        return None
    return {
        "passed": build.tests_passed or 0,
        "failed": build.tests_failed or 0,
        "skipped": build.tests_skipped or 0,
    }


def pipeline_summary_json(pipeline: Pipeline) -> dict[str, Any]:
    return {"name": pipeline.name, "repository_url": pipeline.repository_url}


def pipeline_json(pipeline: Pipeline, cards: list[EnvironmentCard]) -> dict[str, Any]:
    return {
        **pipeline_summary_json(pipeline),
        # The scheduled freeze window holding now (on any environment) and the next one.
        "freeze": outlook(pipeline).as_data(),
        "environments": [_card_json(c) for c in cards],
    }


def _card_json(card: EnvironmentCard) -> dict[str, Any]:
    env = card.environment
    return {
        "name": env.name,
        "position": env.position,
        "branch": env.branch,
        "promote_from": env.promote_from.name if env.promote_from else None,
        "release": release_json(card.release),
        "candidate": release_json(card.candidate) if env.promote_from_id else None,
        "deployment": _deployment_json(card.active_deployment),
        "lock": _lock_json(card.lock),
        "pin": _pin_json(card),
        "frozen": card.freeze_window.as_data() if card.freeze_window else None,
        "checklist": [
            {
                "key": item.key,
                "label": item.label,
                "role": item.role,
                "valid_for": item.valid_for.total_seconds() if item.valid_for else None,
            }
            for item in card.checklist
        ],
        "checklist_state": _checklist_state_json(card),
        "probe": _probe_json(card.probe),
        **branch_environment_json(env),
    }


def branch_environment_json(env) -> dict[str, Any]:
    """Per-branch fields (docs/branch-environments.md)."""
    return {
        "per_branch": env.per_branch,
        "template": env.template.name if env.template_id else None,
        "source_branch": env.source_branch or None,
        "port": env.port,
    }


def _probe_json(probe: Probe | None) -> dict[str, Any] | None:
    if probe is None:
        return None
    return {
        "status": probe.status,
        "serving_sha": probe.serving_sha or None,
        "deployed_sha": probe.deployed_sha or None,
        "detail": probe.detail or None,
        "checked_at": timestamp(probe.checked_at),
        "since": timestamp(probe.since),
    }


def _checklist_state_json(card: EnvironmentCard) -> dict[str, Any] | None:
    """For a promoted environment: does each item count for the candidate, or why not."""
    state = card.checklist_state
    if state is None:
        return None
    return {"complete": state.complete, "items": [item.as_data() for item in state.items]}


def release_json(release: Release | None) -> dict[str, Any] | None:
    if release is None:
        return None
    build = release.build
    return {
        "version": release.label,
        "sha": build.sha,
        "digest": release.artifact.digest if release.artifact else None,
        "cause": release.cause,
        "description": release.description,
        "deployed_at": timestamp(release.deployed_at),
        "deployed_by": release.created_by.get_username() if release.created_by else None,
        "build": {
            "status": build.status,
            "branch": build.branch,
            "message": build.subject,
            "tests": _tests_json(build),
            "coverage": float(build.coverage) if build.coverage is not None else None,
        },
    }


def _deployment_json(deployment: Deployment | None) -> dict[str, Any] | None:
    if deployment is None:
        return None
    return {
        "id": deployment.pk,
        "status": deployment.status,
        "version": deployment.release.label,
        "sha": deployment.release.build.sha,
    }


def _pin_json(card: EnvironmentCard) -> dict[str, Any] | None:
    env = card.environment
    if env.pinned_at is None:
        return None
    return {
        "by": env.pinned_by.get_username() if env.pinned_by else None,
        "since": timestamp(env.pinned_at),
        "reason": env.pin_reason,
        "waiting": [
            {"sha": b.sha, "branch": b.branch, "created_at": timestamp(b.created_at)}
            for b in card.held
        ],
    }


def _lock_json(lock: Lock | None) -> dict[str, Any] | None:
    if lock is None:
        return None
    return {
        "owner": lock.owner.get_username(),
        "reason": lock.reason,
        "since": timestamp(lock.created_at),
        "scope": "environment" if lock.environment_id else "pipeline",
    }
