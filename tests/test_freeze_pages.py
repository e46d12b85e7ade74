"""A scheduled freeze window on the pages and in the CLI: refused with the window in the page
and on the command line, and a lead's break-glass with a reason."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import TestCase

from pipelines.config import load_pipeline_text
from pipelines.models import AuditEvent, Deployment, Promotion
from tests.conftest import EXAMPLE_TOML
from tests.factories import passing_build
from tests.promoting import sign_everything, uat_runs_a_new_build
from tests.test_cli import slipway

LIVE = "/pipelines/webshop/environments/live"
REPO_LINE = 'repository_url = "https://github.com/acme/webshop"\n'


def freeze_now(environments: str = '["live"]', reason: str = "Black Friday") -> str:
    """A one-off window from an hour ago to an hour from now (real time: the CLI tests talk
    to a server in another process)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start, end = (now - timedelta(hours=1)).isoformat(), (now + timedelta(hours=1)).isoformat()
    table = (
        f'\n[[pipeline.freezes]]\nreason = "{reason}"\nstart = "{start}"\nend = "{end}"\n'
        f"environments = {environments}\n"
    )
    return EXAMPLE_TOML.replace(REPO_LINE, REPO_LINE + table)


@pytest.fixture
def ready_to_promote(pipeline, users):
    candidate = uat_runs_a_new_build(pipeline)
    load_pipeline_text(freeze_now(), source="pipeline.toml")
    sign_everything(pipeline, users)
    return candidate


def test_the_promote_button_is_refused_in_the_page_with_the_window(ready_to_promote, client_for):
    lead = client_for("lead")
    board = lead.get("/pipelines/webshop/").content.decode()
    assert 'data-field="window-reason"' in board
    assert 'id="promote-live-reason" name="reason" required' in board  # asked in the dialog
    response = lead.post(f"{LIVE}/promote", {}, headers={"HX-Request": "true"})
    assert response.status_code == 423
    html = response.content.decode()
    assert "live is frozen until" in html and "Black Friday" in html
    assert not Promotion.objects.exists()


def test_a_lead_breaks_the_glass_from_the_promote_dialog(ready_to_promote, users, client_for):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client_for("lead").post(
            f"{LIVE}/promote", {"reason": "the tax fix cannot wait"}, headers={"HX-Request": "true"}
        )
    assert response.status_code == 200
    assert "Promotion started" in response.content.decode()
    event = AuditEvent.objects.get(action="freeze_bypassed")
    assert event.actor == users["lead"] and event.data["reason"] == "the tax fix cannot wait"
    assert Deployment.objects.get(promotion__isnull=False).freeze_bypass_reason


def test_the_environment_page_says_it_is_frozen_and_asks_a_lead_why(pipeline, client_for):
    load_pipeline_text(freeze_now('["dev"]', "Release week"), source="pipeline.toml")
    passing_build(pipeline, "feature")
    lead = client_for("lead").get("/pipelines/webshop/environments/dev/").content.decode()
    assert 'data-field="scheduled-freeze"' in lead and "Release week" in lead
    assert 'id="deploy-reason" name="reason" required' in lead
    developer = client_for("developer").get("/pipelines/webshop/environments/dev/")
    html = developer.content.decode()
    assert "only a lead may break the glass" in html
    assert 'id="deploy-reason"' not in html


@pytest.fixture
def cli_env(slipway_server, token_for):
    return lambda role: {"SLIPWAY_URL": slipway_server.url, "SLIPWAY_TOKEN": token_for(role)}


def test_the_cli_says_the_window_and_how_a_lead_goes_through(pipeline, users, cli_env):
    uat_runs_a_new_build(pipeline)
    load_pipeline_text(freeze_now(), source="pipeline.toml")
    sign_everything(pipeline, users)
    status = slipway("status", env=cli_env("developer"))
    assert status.returncode == 0, status.stderr
    assert "frozen until" in status.stdout and "Black Friday (live)" in status.stdout

    refused = slipway("promote", "uat", "live", env=cli_env("lead"))
    assert refused.returncode == 1
    assert "live is frozen until" in refused.stderr and "(Black Friday;" in refused.stderr
    assert "a lead adds --reason TEXT" in refused.stderr and "(423 frozen)" in refused.stderr
    assert not Promotion.objects.exists()

    done = slipway("promote", "uat", "live", "--reason", "security fix", env=cli_env("lead"))
    assert done.returncode == 0, done.stderr
    assert AuditEvent.objects.get(action="freeze_bypassed").data["reason"] == "security fix"
