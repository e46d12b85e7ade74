"""The release steps as people see them, in a real Chromium at desktop width and on a
390 px phone: the deployment page lists maintenance on, backup, the release command and
maintenance off in the order they ran (a failed backup: the steps after it skipped, and
maintenance off done all the same), and the sample app's maintenance page while it is on."""

import subprocess
import sys

import pytest
from playwright.sync_api import expect

from dashboard.demo import SAMPLE_APP
from tests.browser.conftest import in_thread, screenshot
from tests.browser.test_login_and_board import log_in
from tests.deploying import free_port, make_local, sample_build, stop_app, wait_for
from tests.promoting import env

pytestmark = pytest.mark.browser

PHONE = 390


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{width} px wide"


@pytest.fixture
def uat_with_release_steps(pipeline, tmp_path):
    """uat deploys the sample app with the four release commands; its backup fails when
    the file `backup-fails` exists."""
    port, target = free_port(), tmp_path / "uat"
    flag, fails = target / "maintenance.on", tmp_path / "backup-fails"
    restart = f"{sys.executable} current/control.py restart --port {port} --pidfile app.pid"
    make_local(
        env(pipeline, "uat"),
        target,
        port,
        restart_command=f"{restart} --maintenance maintenance.on",
        maintenance_on_command="echo 'Back in a minute: deploying.' > maintenance.on",
        backup_command=(
            f"if [ -e {fails} ]; then echo 'pg_dump: connection refused' >&2; exit 1; fi; "
            "echo 'Saved backups/shop.dump'"
        ),
        release_command="echo 'No migrations to apply.'",
        maintenance_off_command="rm -f maintenance.on",
    )
    yield fails, flag
    stop_app(target)


def deploy(environment, message: str):
    from pipelines.deploys import request_deployment

    build = sample_build(environment.pipeline, message)
    deployment = request_deployment(environment, build, cause="manual")
    deployment.refresh_from_db()
    return deployment


def test_the_deployment_page_shows_the_release_steps_in_order_and_maintenance_off_after_a_failure(
    slipway_server, pipeline, users, uat_with_release_steps, new_page
):
    backup_fails, maintenance_flag = uat_with_release_steps
    uat = env(pipeline, "uat")
    good = in_thread(deploy, uat, "Cart: keep items across logins")
    assert good.status == "succeeded", good.error
    backup_fails.touch()
    bad = in_thread(deploy, uat, "Orders: gift cards")
    assert bad.status == "failed"
    assert not maintenance_flag.exists()

    for width in (1280, PHONE):
        page = new_page(width=width)
        log_in(page, slipway_server, "developer")
        page.goto(f"{slipway_server.url}/deployments/{good.pk}/")
        steps = page.locator("[data-step]")
        expect(steps).to_have_count(7)
        names = [s.get_attribute("data-step") for s in steps.all()]
        assert names == [
            "release",
            "maintenance on",
            "backup",
            "release command",
            "switch",
            "health check",
            "maintenance off",
        ]
        screenshot(page, f"release-steps-succeeded-{width}.png")
        no_sideways_scroll(page)

        page.goto(f"{slipway_server.url}/deployments/{bad.pk}/")
        expect(page.locator('[data-step="backup"]')).to_have_attribute("data-step-status", "failed")
        for skipped in ("release command", "switch", "health check"):
            expect(page.locator(f'[data-step="{skipped}"]')).to_have_attribute(
                "data-step-status", "skipped"
            )
        expect(page.locator('[data-step="maintenance off"]')).to_have_attribute(
            "data-step-status", "succeeded"
        )
        expect(page.get_by_role("alert")).to_contain_text("backup")
        failed = page.locator('#log details[data-log-step="backup"]')
        expect(failed).to_have_attribute("open", "")
        expect(failed).to_contain_text("pg_dump: connection refused")
        expect(page.locator('#log details[data-log-step="maintenance off"]')).to_be_attached()
        screenshot(page, f"release-steps-failed-backup-{width}.png")
        no_sideways_scroll(page)


def test_the_sample_app_shows_a_readable_maintenance_page_while_maintenance_is_on(
    tmp_path, new_page
):
    port, flag = free_port(), tmp_path / "maintenance.on"
    flag.write_text("Back in a minute: deploying v3.\n")
    (tmp_path / "REVISION").write_text("0123456789abcdef\nAdd gift cards\n")
    for name in ("app.py",):
        (tmp_path / name).write_bytes((SAMPLE_APP / name).read_bytes())
    app = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--environment", "live"]
        + ["--maintenance", str(flag)],
        cwd=tmp_path,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for(lambda: _answers(url), 10, "the sample app")
        for width, scheme in ((1280, "light"), (PHONE, "light"), (PHONE, "dark")):
            page = new_page(width=width, color_scheme=scheme)
            response = page.goto(url)
            assert response.status == 503
            expect(page.get_by_role("heading", level=1)).to_have_text(
                "webshop on live is being updated"
            )
            expect(page.get_by_text("Back in a minute: deploying v3.")).to_be_visible()
            screenshot(page, f"maintenance-page-{width}-{scheme}.png")
            no_sideways_scroll(page)
        flag.unlink()
        page = new_page()
        assert page.goto(url).status == 200
        expect(page.get_by_role("heading", level=1)).to_have_text("webshop on live")
    finally:
        app.terminate()
        app.wait(10)


def _answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url, timeout=1)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True
