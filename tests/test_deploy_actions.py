"""Manual deploy, rollback and cancel from the environment page."""

import re

import pytest
from django.utils import timezone

from pipelines.deploys import deploy_build, request_deployment
from pipelines.models import Deployment, DeploymentStatus
from pipelines.runner.run import run_deployment
from tests.deploying import artifact_build

pytestmark = pytest.mark.django_db

DEV = "/pipelines/webshop/environments/dev/"
LIVE = "/pipelines/webshop/environments/live/"


def test_a_developer_sees_the_deploy_form_listing_builds_with_artifacts(pipeline, client_for):
    build = artifact_build(pipeline, b"one")

    html = client_for("developer").get(DEV).content.decode()

    assert 'data-action="deploy"' in html
    assert f'<option value="{build.sha}">' in html


def test_the_deploy_form_names_each_build_by_sha_branch_status_and_subject_escaped(
    pipeline, client_for
):
    subject = "Fix <script>alert('x')</script> & the cart's totals " + "a" * 60
    build = artifact_build(pipeline, b"one", message=f"{subject}\n\nThe body, not shown")
    branchless = artifact_build(pipeline, b"two", branch="")

    html = client_for("developer").get(DEV).content.decode()

    shown = "Fix &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; the cart&#x27;s totals "
    shown += "a" * (59 - len("Fix <script>alert('x')</script> & the cart's totals ")) + "…"

    def option(found) -> str:
        return re.search(f'<option value="{found.sha}">(.*?)</option>', html).group(1)

    assert option(build) == f"{build.sha[:7]} · {build.branch} · passed · {shown}"
    assert option(branchless) == f"{branchless.sha[:7]} · no branch · passed · A change"


def test_sales_and_developers_on_guarded_environments_see_no_deploy_form(pipeline, client_for):
    artifact_build(pipeline, b"one")
    assert 'data-action="deploy"' not in client_for("sales").get(DEV).content.decode()
    assert 'data-action="deploy"' not in client_for("developer").get(LIVE).content.decode()
    assert 'data-action="deploy"' in client_for("lead").get(LIVE).content.decode()


def test_a_checklist_whose_items_are_all_retired_no_longer_guards_the_page(pipeline, client_for):
    artifact_build(pipeline, b"one")
    live = pipeline.environments.get(name="live")
    assert 'data-action="deploy"' not in client_for("developer").get(LIVE).content.decode()
    live.checklist_items.update(retired_at=timezone.now())
    html = client_for("developer").get(LIVE).content.decode()
    assert 'data-action="deploy"' in html and "Outside promotion" not in html


def test_a_developer_deploys_a_build_from_the_page(pipeline, client_for):
    build = artifact_build(pipeline, b"one")

    response = client_for("developer").post(DEV + "deploy", {"sha": build.sha})

    deployment = Deployment.objects.get()
    assert response.status_code == 302
    assert response.url == f"/deployments/{deployment.pk}/"
    assert deployment.release.build == build
    assert deployment.requested_by.username == "developer"


def test_a_forged_deploy_to_a_guarded_environment_changes_nothing(pipeline, client_for):
    build = artifact_build(pipeline, b"one")

    response = client_for("developer").post(LIVE + "deploy", {"sha": build.sha}, follow=True)

    assert "may not deploy to live" in response.content.decode()
    assert not Deployment.objects.exists()


def test_a_bad_sha_gets_a_message_not_an_error_page(pipeline, client_for):
    response = client_for("developer").post(DEV + "deploy", {"sha": "nope"}, follow=True)
    assert response.status_code == 200
    assert "has no build of commit" in response.content.decode()
    response = client_for("developer").post(DEV + "deploy", {}, follow=True)
    assert "Choose a build to deploy." in response.content.decode()


def test_a_second_deploy_while_one_runs_is_refused_naming_it(pipeline, client_for):
    build = artifact_build(pipeline, b"one")
    dev = pipeline.environments.get(name="dev")
    running = request_deployment(dev, build, cause="manual")

    response = client_for("developer").post(
        DEV + "deploy", {"sha": build.sha}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 409
    assert f"Deployment #{running.pk} of dev is still queued" in response.content.decode()
    assert response["HX-Redirect"] == DEV  # where the message shows


def test_a_lead_sees_rollback_buttons_for_earlier_releases_only(pipeline, users, client_for):
    dev = pipeline.environments.get(name="dev")
    for data in (b"one", b"two", b"three"):
        run_deployment(deploy_build(dev, artifact_build(pipeline, data), by=users["lead"]).pk)

    html = client_for("lead").get(DEV).content.decode()

    # One in-page dialog asks, for the row whose button opened it (the browser test shows it).
    assert re.findall(r'data-opens="rollback-dialog" data-put-label="(v\d+)"', html) == ["v2", "v1"]
    assert html.count("<dialog") == html.count('<dialog id="rollback-dialog"') == 1
    assert "rollback-dialog" not in client_for("developer").get(DEV).content.decode()


def test_a_lead_rolls_back_from_the_page(pipeline, users, client_for):
    dev = pipeline.environments.get(name="dev")
    first = artifact_build(pipeline, b"one")
    for build in (first, artifact_build(pipeline, b"two")):
        run_deployment(deploy_build(dev, build, by=users["lead"]).pk)

    response = client_for("lead").post(
        DEV + "rollback", {"release": "v1"}, headers={"HX-Request": "true"}
    )

    deployment = Deployment.objects.get(release__version=3)
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/deployments/{deployment.pk}/"
    assert deployment.release.description == "rollback to v1"
    assert deployment.release.artifact == first.artifact


def test_a_developer_may_not_roll_back(pipeline, users, client_for):
    dev = pipeline.environments.get(name="dev")
    for data in (b"one", b"two"):
        run_deployment(deploy_build(dev, artifact_build(pipeline, data), by=users["lead"]).pk)

    response = client_for("developer").post(
        DEV + "rollback", {"release": "v1"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 403
    assert Deployment.objects.count() == 2


def test_a_lead_cancels_a_queued_deployment(pipeline, users, client_for):
    deployment = request_deployment(
        pipeline.environments.get(name="dev"), artifact_build(pipeline, b"x"), cause="manual"
    )

    response = client_for("lead").post(
        f"/deployments/{deployment.pk}/cancel", headers={"HX-Request": "true"}
    )

    assert response.status_code == 204
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.CANCELLED
    assert deployment.cancel_requested_by == users["lead"]


def test_a_developer_may_not_cancel(pipeline, client_for):
    deployment = request_deployment(
        pipeline.environments.get(name="dev"), artifact_build(pipeline, b"x"), cause="manual"
    )

    response = client_for("developer").post(f"/deployments/{deployment.pk}/cancel")

    assert response.status_code == 302
    assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.QUEUED


def test_cancelling_a_finished_deployment_is_refused(pipeline, client_for):
    deployment = request_deployment(
        pipeline.environments.get(name="dev"), artifact_build(pipeline, b"x"), cause="manual"
    )
    run_deployment(deployment.pk)

    response = client_for("lead").post(
        f"/deployments/{deployment.pk}/cancel", headers={"HX-Request": "true"}
    )

    assert response.status_code == 409
    assert "already ended (succeeded)" in response.content.decode()


def test_cancel_only_takes_posts(pipeline, client_for):
    response = client_for("lead").get("/deployments/1/cancel")
    assert response.status_code == 405
