"""Promotion: the lead copies uat's artifact to live once the checklist is complete."""

import pytest
from django.test import TestCase

from pipelines import checklist, locks
from pipelines.errors import (
    CandidateChanged,
    ChecklistIncomplete,
    Conflict,
    EnvironmentLocked,
    PermissionDenied,
    PromotionRunning,
)
from pipelines.models import AuditEvent, Deployment, Promotion, ReleaseCause
from pipelines.promotion import promote
from tests.promoting import env, finish_queued, item, sign_everything, uat_runs_a_new_build

pytestmark = pytest.mark.django_db


def promote_live(pipeline, by, **kwargs) -> Deployment:
    with TestCase.captureOnCommitCallbacks(execute=True):
        deployment = promote(pipeline, env(pipeline, "uat"), env(pipeline, "live"), by=by, **kwargs)
    finish_queued(env(pipeline, "live"))
    deployment.refresh_from_db()
    return deployment


def test_it_refuses_promotion_with_an_unsigned_checklist_naming_what_is_missing(pipeline, users):
    uat_runs_a_new_build(pipeline)
    checklist.sign(item(pipeline, "smoke-tested"), by=users["qa"])
    with pytest.raises(ChecklistIncomplete) as refused:
        promote_live(pipeline, users["lead"])
    missing = refused.value.details["missing"]
    assert [(m["key"], m["reason"]) for m in missing] == [
        ("not-mid-demo", "not_signed"),
        ("not-serving-a-customer", "not_signed"),
    ]
    assert "Sales: not mid-demo (not signed yet)" in refused.value.message
    assert not Deployment.objects.filter(environment__name="live").exists()


@pytest.mark.parametrize("role", ["developer", "sales", "support", "qa", "nobody"])
def test_only_a_lead_may_promote(pipeline, users, role):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    with pytest.raises(PermissionDenied) as refused:
        promote_live(pipeline, users[role])
    assert refused.value.message == f"{role} may not promote uat to live: that takes the lead role."
    assert not Deployment.objects.filter(environment__name="live").exists()


def test_live_gets_the_very_same_artifact_that_uat_runs(pipeline, users):
    candidate = uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    deployment = promote_live(pipeline, users["lead"], digest=candidate.artifact.digest)

    live = env(pipeline, "live")
    assert deployment.status == "succeeded"
    assert live.current_release == deployment.release
    assert live.current_release.artifact_id == candidate.artifact_id
    assert live.current_release.artifact.digest == candidate.artifact.digest
    assert live.current_release.build_id == candidate.build_id
    assert live.current_release.cause == ReleaseCause.PROMOTION
    assert live.current_release.description == "promotion from uat"
    assert live.current_release.created_by == users["lead"]


def test_a_promotion_records_the_pinned_artifact_and_the_checklist_as_it_stood(pipeline, users):
    candidate = uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    deployment = promote_live(pipeline, users["lead"])

    promotion = Promotion.objects.get(deployment=deployment)
    assert (promotion.source.name, promotion.target.name) == ("uat", "live")
    assert promotion.artifact == candidate.artifact
    assert promotion.requested_by == users["lead"]
    assert [(i["key"], i["signed_by"]) for i in promotion.checklist_snapshot] == [
        ("not-mid-demo", "sales"),
        ("not-serving-a-customer", "support"),
        ("smoke-tested", "qa"),
    ]
    event = AuditEvent.objects.get(action="promotion")
    assert event.actor == users["lead"] and event.data["digest"] == candidate.artifact.digest


def test_the_checklist_starts_over_after_a_promotion(pipeline, users):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    promote_live(pipeline, users["lead"])
    uat_runs_a_new_build(pipeline)
    with pytest.raises(ChecklistIncomplete):
        promote_live(pipeline, users["lead"])


def test_it_refuses_when_uat_changed_since_the_lead_looked(pipeline, users):
    seen = uat_runs_a_new_build(pipeline)
    now = uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    with pytest.raises(CandidateChanged) as refused:
        promote_live(pipeline, users["lead"], digest=seen.artifact.digest)
    assert refused.value.message == (
        f"uat now runs {now.artifact.digest} ({now.label}), you saw {seen.artifact.digest} "
        "— reload and check again."
    )
    assert not Deployment.objects.filter(environment__name="live").exists()


def test_a_second_click_while_the_first_runs_names_the_running_promotion(pipeline, users):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    uat, live = env(pipeline, "uat"), env(pipeline, "live")
    first = promote(pipeline, uat, live, by=users["lead"])  # not run yet: still queued
    with pytest.raises(PromotionRunning) as refused:
        promote(pipeline, uat, live, by=users["lead"])
    assert refused.value.message.startswith("A promotion is already running")
    assert refused.value.details["deployment"] == first.pk
    assert Deployment.objects.filter(environment=live).count() == 1


def test_promoting_what_live_already_runs_is_refused(pipeline, users):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    promote_live(pipeline, users["lead"])
    with pytest.raises(Conflict, match="live already runs"):
        promote_live(pipeline, users["lead"])


@pytest.mark.parametrize("scope", ["live", "pipeline"])
def test_a_locked_target_refuses_promotion(pipeline, users, scope):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    locks.lock(
        pipeline,
        env(pipeline, "live") if scope == "live" else None,
        by=users["lead"],
        reason="Black Friday",
    )
    with pytest.raises(EnvironmentLocked, match="Black Friday") as refused:
        promote_live(pipeline, users["lead"])
    assert refused.value.http_status == 423
    assert not Deployment.objects.filter(environment__name="live").exists()


def test_the_bytes_live_receives_hash_to_the_promoted_digest(pipeline, users, tmp_path):
    from pipelines.config import load_pipeline_text
    from tests.conftest import EXAMPLE_TOML

    received = tmp_path / "received.sha256"
    load_pipeline_text(
        EXAMPLE_TOML.replace(
            'name = "live"\npromote_from = "uat"\n',
            'name = "live"\npromote_from = "uat"\ndriver = "script"\n'
            f'deploy_command = "sha256sum \\"$SLIPWAY_ARTIFACT\\" > {received}"\n',
        )
    )
    candidate = uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    deployment = promote_live(pipeline, users["lead"])

    assert deployment.status == "succeeded", deployment.error
    assert received.read_text().split()[0] == candidate.artifact.digest.removeprefix("sha256:")
