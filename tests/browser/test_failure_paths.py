"""When things go wrong, in a real Chromium: a failed deployment says where and why and
changes nothing; a person without the role cannot sign, not even by forging the request;
a lock stops promotion and says why."""

import re

import pytest
import requests
from playwright.sync_api import expect

from dashboard.demo import sampleapp_artifact
from pipelines.deploys import request_deployment
from pipelines.models import Deployment, Promotion, Signoff
from tests.browser.conftest import in_thread
from tests.browser.test_login_and_board import log_in
from tests.deploying import artifact_build, free_port, make_local, stop_app
from tests.factories import fake_sha
from tests.promoting import env, sign_everything, uat_runs_a_new_build

pytestmark = pytest.mark.browser

# The app's release command: the new version's migration breaks.
ERROR = 'psql:0043_gift_cards.sql:3: ERROR:  column "gift_card" of relation "orders" does not exist'
MIGRATE = f"""\
import sys
ERROR = {ERROR!r}
print("Applying migrations/0043_gift_cards.sql", flush=True)
print(ERROR, file=sys.stderr)
sys.exit(1)
""".encode()
FINE = b'print("No migrations to apply.")\n'


def deploy(environment, message: str, migrate: bytes) -> Deployment:
    """A build of the sample app deployed to `environment`, run at once in this process."""
    sha = fake_sha(message)
    data = sampleapp_artifact(sha, message, {"migrate.py": migrate})
    build = artifact_build(environment.pipeline, data, sha=sha, message=message)
    deployment = request_deployment(environment, build, cause="manual")
    deployment.refresh_from_db()
    return deployment


def version_served(port: int) -> str:
    with requests.Session() as session:
        session.trust_env = False
        return session.get(f"http://127.0.0.1:{port}/__version__", timeout=5).json()["sha"]


@pytest.fixture
def uat_app(pipeline, tmp_path):
    """uat deploys the sample app into a tmp dir on a free port, migrating first."""
    port, target = free_port(), tmp_path / "uat"
    make_local(env(pipeline, "uat"), target, port, release_command="python3 migrate.py")
    yield port
    stop_app(target)


def test_a_failed_deployment_shows_the_failing_step_and_error_and_uat_keeps_serving(
    slipway_server, pipeline, users, uat_app, new_page
):
    uat = env(pipeline, "uat")
    good = in_thread(deploy, uat, "Cart: keep items across logins", FINE)
    assert good.status == "succeeded", good.error
    bad = in_thread(deploy, uat, "Orders: gift cards", MIGRATE)
    assert bad.status == "failed"

    page = new_page()
    log_in(page, slipway_server, "developer")
    page.goto(f"{slipway_server.url}/deployments/{bad.pk}/")
    status = page.locator("#deployment-status")
    expect(status).to_have_attribute("data-status", "failed")
    expect(status.locator('[data-field="status"]')).to_have_text("✗ failed")
    expect(page.locator('[data-step="release command"]')).to_contain_text("failed")
    expect(page.locator('[data-step="switch"]')).not_to_contain_text("succeeded")
    expect(page.get_by_role("alert")).to_contain_text("release command")
    # The log by steps: the failed step open with its status and duration, the one before
    # it folded away.
    failed = page.locator('#log details[data-log-step="release command"]')
    expect(failed).to_have_attribute("open", "")
    # Its duration as pipelines/durations.py writes it: "< 0.1 s" for a command that failed at once.
    summary = re.compile(r"^✗ failed release command (\d+\.\d|< 0\.1) s$")
    expect(failed.locator("summary")).to_have_text(summary)
    expect(page.locator('#log details[data-log-step="release"]')).not_to_have_attribute("open", "")
    page.get_by_role("button", name="Jump to the first error").click()
    expect(page.locator("#log .highlight")).to_have_text(ERROR)

    # The board still shows, and the app still serves, the release before; the card says the
    # deployment failed (not the CI build's "passed") and links to it.
    page.get_by_role("link", name="webshop").click()
    card = page.locator('[data-env="uat"]')
    expect(card.locator('[data-field="sha"]')).to_have_text(good.release.build.short_sha)
    expect(card.locator('[data-field="version"]')).to_have_text("v1")
    expect(card.locator('[data-field="state"]')).to_have_text("✗ failed")
    failure = card.locator('[data-field="failure"]')
    expect(failure).to_contain_text("failed")
    expect(failure).to_contain_text("still serving v1")
    failure.get_by_role("link", name=f"Deployment #{bad.pk}").click()
    expect(page).to_have_url(f"{slipway_server.url}/deployments/{bad.pk}/")
    assert version_served(uat_app) == good.release.build.sha


def forge(page, server, path: str, **form: str):
    """A POST made by hand with this person's session and CSRF token (no button needed)."""
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return page.request.post(
        f"{server.url}/pipelines/webshop/environments/live/{path}",
        form=form,
        headers={"X-CSRFToken": csrf, "Referer": page.url},
    )


def test_a_person_without_the_role_cannot_sign_or_promote_not_even_with_a_forged_post(
    slipway_server, pipeline, users, new_page
):
    candidate = in_thread(uat_runs_a_new_build, pipeline)
    page = new_page()
    log_in(page, slipway_server, "sales")
    qa_row = page.locator('[data-checklist-item="smoke-tested"]')
    expect(qa_row).to_contain_text("not signed yet")
    expect(qa_row.get_by_role("button")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign: Sales: not mid-demo")).to_be_visible()
    expect(page.locator('[data-action="promote"]')).to_have_count(0)
    expect(page.locator("#promote-live")).to_contain_text("Only a team lead promotes")

    digest = candidate.artifact.digest
    signed = forge(page, slipway_server, "checklist/smoke-tested/sign", digest=digest)
    assert signed.status == 403, signed.text()
    promoted = forge(page, slipway_server, "promote", digest=digest)
    assert promoted.status == 403, promoted.text()

    assert not Signoff.objects.exists()
    assert not Promotion.objects.exists()
    assert env(pipeline, "live").current_release is None
    page.reload()
    expect(page.locator('[data-checklist-item="smoke-tested"]')).to_contain_text("not signed yet")


def test_a_lock_disables_promote_and_says_why(slipway_server, pipeline, users, new_page):
    in_thread(uat_runs_a_new_build, pipeline)
    in_thread(sign_everything, pipeline, users)
    page = new_page()
    log_in(page, slipway_server, "lead")
    promote = page.locator('[data-action="promote"]')
    expect(promote).to_be_enabled()

    reason = "Black Friday: no changes until Monday"
    page.get_by_role("button", name="Lock live…").click()
    page.get_by_role("dialog", name="Lock live").get_by_label("Why?").fill(reason)
    page.get_by_role("dialog", name="Lock live").get_by_role("button", name="Lock live").click()

    expect(page.locator('[data-env="live"] [data-field="lock"]')).to_contain_text(reason)
    expect(promote).to_be_disabled()
    why = page.locator('#promote-live [data-field="lock-reason"]')
    expect(why).to_contain_text(f"live is locked by lead: “{reason}”")
    expect(promote).to_have_accessible_description(why.inner_text())  # a screen reader too
