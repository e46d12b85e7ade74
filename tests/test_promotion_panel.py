"""The promotion panel: candidate, checklist, who may sign, and a Promote button that means it."""

import re

import pytest
from django.template.loader import render_to_string
from django.test import TestCase

from pipelines import checklist, locks
from pipelines.board import environment_cards
from pipelines.roles import roles_of
from tests.promoting import env, item, sign_everything, uat_runs_a_new_build

pytestmark = pytest.mark.django_db

LIVE = "/pipelines/webshop/environments/live"


def panel(html: str) -> str:
    match = re.search(r'<section class="promotion" id="promote-live".*?</section>', html, re.S)
    assert match, "no promotion panel for live"
    return match.group(0)


def board_panel(client) -> str:
    return panel(client.get("/pipelines/webshop/").content.decode())


def row(html: str, key: str) -> str:
    match = re.search(rf'<li data-checklist-item="{key}".*?</li>', html, re.S)
    assert match, f"no checklist row {key}"
    return match.group(0)


def promote_button(html: str) -> str | None:
    match = re.search(r'<button[^>]*data-action="promote"[^>]*>', html, re.S)
    return match.group(0) if match else None


def test_it_shows_the_candidate_and_what_live_runs_now(pipeline, client_for):
    candidate = uat_runs_a_new_build(
        pipeline,
        message="Checkout: one-click\n\nbody",
        tests={"passed": 120, "failed": 0, "skipped": 3},
        coverage="87.5",
    )
    html = board_panel(client_for("sales"))
    assert candidate.build.short_sha in html and "Checkout: one-click" in html
    assert candidate.artifact.digest in html
    assert "120 passed, 0 failed, 3 skipped" in html and "87.5%" in html
    assert re.search(r'data-field="target">nothing yet', html)


def test_sign_buttons_appear_only_for_the_items_role(pipeline, client_for):
    uat_runs_a_new_build(pipeline)
    html = board_panel(client_for("sales"))
    assert 'data-action="sign"' in row(html, "not-mid-demo")
    assert 'data-action="sign"' not in row(html, "smoke-tested")
    lead_html = board_panel(client_for("lead"))
    assert 'data-action="sign"' not in lead_html


def test_only_leads_get_a_promote_button_disabled_until_the_checklist_is_complete(
    pipeline, users, client_for
):
    candidate = uat_runs_a_new_build(pipeline)
    assert promote_button(board_panel(client_for("qa"))) is None
    assert "disabled" in promote_button(board_panel(client_for("lead")))

    sign_everything(pipeline, users)
    button = promote_button(board_panel(client_for("lead")))
    assert "disabled" not in button
    # The button opens a dialog saying what is promoted, as a sentence; its confirmation pins
    # the digest the lead saw.
    assert 'data-opens="promote-live-dialog"' in button
    dialog = re.search(
        r'<dialog id="promote-live-dialog".*?</dialog>', board_panel(client_for("lead")), re.S
    )
    sentence = re.sub(
        r"\s+", " ", re.search(r'data-field="promote-sentence">(.*?)</p>', dialog.group(0)).group(1)
    )
    assert (
        sentence
        == f"live (nothing yet) → {candidate.build.short_sha} · 3/3 signed · the artifact QA tested"
    )
    assert f'hx-vals=\'{{"digest": "{candidate.artifact.digest}"}}\'' in dialog.group(0)


def test_a_lock_disables_the_promote_button(pipeline, users, client_for):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    locks.lock(pipeline, env(pipeline, "live"), by=users["lead"], reason="demo")
    html = board_panel(client_for("lead"))
    assert "disabled" in promote_button(html)
    assert "live is locked" in html


def test_it_says_who_signed_when_and_until_when(pipeline, users, client_for):
    uat_runs_a_new_build(pipeline)
    checklist.sign(item(pipeline, "not-mid-demo"), by=users["sales"], note="no demo today")
    html = row(board_panel(client_for("qa")), "not-mid-demo")
    assert "signed by sales" in html and "no demo today" in html
    assert "expires" in html and "valid 30 min" in html


def test_it_says_why_a_sign_off_stopped_counting(pipeline, users, client_for):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    newer = uat_runs_a_new_build(pipeline)
    html = row(board_panel(client_for("qa")), "smoke-tested")
    assert 'data-reason="candidate_changed"' in html
    assert f"uat now runs {newer.label}" in html
    assert 'data-action="sign"' in html  # sign again, for the new candidate


def test_signing_answers_with_the_re_rendered_panel(pipeline, client_for):
    candidate = uat_runs_a_new_build(pipeline)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client_for("qa").post(
            f"{LIVE}/checklist/smoke-tested/sign",
            {"digest": candidate.artifact.digest},
            headers={"HX-Request": "true"},
        )
    html = response.content.decode()
    assert response.status_code == 200
    assert "You signed &quot;QA: smoke-tested on uat&quot;" in html
    assert 'data-action="revoke"' in row(html, "smoke-tested")


def test_a_stale_promote_click_is_refused_with_what_changed(pipeline, users, client_for):
    seen = uat_runs_a_new_build(pipeline)
    now = uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    response = client_for("lead").post(f"{LIVE}/promote", {"digest": seen.artifact.digest})
    assert response.status_code == 409
    assert f"uat now runs {now.artifact.digest} ({now.label}), you saw {seen.artifact.digest}" in (
        response.content.decode()
    )


def test_a_successful_promotion_links_to_its_deployment(pipeline, users, client_for):
    candidate = uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    response = client_for("lead").post(f"{LIVE}/promote", {"digest": candidate.artifact.digest})
    assert response.status_code == 200
    assert re.search(r"Promotion started: deployment #\d+", response.content.decode())


def test_it_renders_for_a_websocket_update_without_a_request(pipeline, users):
    uat_runs_a_new_build(pipeline)
    sign_everything(pipeline, users)
    card = next(c for c in environment_cards(pipeline) if c.name == "live")
    html = render_to_string(
        "dashboard/partials/promotion_panel.html",
        {
            "card": card,
            "pipeline": pipeline,
            "user": users["lead"],
            "roles": roles_of(users["lead"]),
            "oob": True,
        },
    )
    assert 'id="promote-live"' in html and 'hx-swap-oob="true"' in html
    assert "disabled" not in promote_button(html)


def test_sign_offs_do_not_add_queries_to_the_board(pipeline, users, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    uat_runs_a_new_build(pipeline)
    client = client_for("lead")
    client.get("/pipelines/webshop/")  # warm up the session and user caches
    with CaptureQueriesContext(connection) as before:
        client.get("/pipelines/webshop/")
    for _ in range(5):
        sign_everything(pipeline, users)
    checklist.revoke(item(pipeline, "smoke-tested").signoffs.first(), by=users["qa"])
    with CaptureQueriesContext(connection) as after:
        html = client.get("/pipelines/webshop/").content.decode()
    assert "revoked by qa" in html
    assert len(after) == len(before)
