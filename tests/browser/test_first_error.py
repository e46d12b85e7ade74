""" "Jump to the first error" finds an error wherever it was printed: on stdout too, and
before the lines the page showed first; a failed deployment quotes it under its summary."""

import pytest
from playwright.sync_api import expect

from pipelines.logs import append_log
from pipelines.models import Deployment
from tests.browser.test_login_and_board import log_in
from tests.watching import running_deployment

pytestmark = pytest.mark.browser


def test_the_first_error_is_found_on_stdout_above_the_shown_lines(
    slipway_server, pipeline, users, new_page
):
    deployment = running_deployment(pipeline)
    append_log(deployment, [("stdout", "Applying migrations…"), ("stderr", "warning: slow disk")])
    append_log(deployment, [("stdout", "ERROR: migration 0042_cart failed")])
    append_log(deployment, [("stdout", f"copying file {n}") for n in range(2500)])
    append_log(deployment, [("system", "✖ switch failed: current is not a symlink")])
    Deployment.objects.filter(pk=deployment.pk).update(
        status="failed", error="The release step failed; v1 keeps serving."
    )

    page = new_page()
    log_in(page, slipway_server, "developer")
    page.goto(f"{slipway_server.url}/deployments/{deployment.pk}/")
    quote = page.locator("[data-field=first-error]")
    expect(quote).to_contain_text("ERROR: migration 0042_cart failed")
    expect(page.locator("[data-field=error-count]")).to_have_text("2 error lines")
    expect(page.locator('#log [data-seq="3"]')).to_have_count(0)  # not among the shown lines

    page.get_by_role("button", name="Jump to the first error").click()
    line = page.locator('#log [data-seq="3"]')
    expect(line).to_have_class("line stdout highlight")
    expect(line).to_have_text("ERROR: migration 0042_cart failed")
    expect(line).to_be_in_viewport()
