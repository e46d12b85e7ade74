"""The whole story, each person in their own browser: CI pushes a build with `slipway push`,
it deploys to uat while a developer watches the log, sales, support and QA sign, the lead
promotes, and live serves the very same artifact.

It runs twice: in the embedded mode of `make run` (deployments in a thread of the server)
and as in production, with REDIS_URL and a real Celery worker (skipped loudly without
Redis; a failure under REQUIRE_SERVICES=1).
"""

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from dashboard.demo import DEMO_BUILDS, sampleapp_artifact
from pipelines.deploys import request_deployment
from pipelines.models import ReleaseCause
from tests.browser.conftest import in_thread, screenshot
from tests.browser.test_login_and_board import log_in
from tests.deploying import artifact_build, free_port, make_local, stop_app
from tests.live import database_url, run_server

pytestmark = pytest.mark.browser

# The demo's commits (sha, branch, message, author, tests, coverage): live runs the older
# master build, dev a work in progress; CI pushes the newer master build.
OLDER, NEWER, DEV = DEMO_BUILDS
NEW_SHA, _, NEW_MESSAGE, NEW_AUTHOR, (NEW_PASSED, _, NEW_SKIPPED), NEW_COVERAGE = NEWER
# Long enough for a restart and a health check; reached only when something is broken.
DEPLOY_TIMEOUT_MS = 30_000

# The app's release command (release.py, shipped in the artifact) waits at a gate the test
# opens: by then the developer is watching. GATE is replaced by the gate's path.
RELEASE_SCRIPT = """\
import pathlib, time
gate = pathlib.Path(GATE)
print("Loading fixtures: 12 products, 3 customers", flush=True)
print("Waiting for the smoke-test data to settle", flush=True)
while not gate.exists():
    time.sleep(0.05)
print("Fixtures loaded", flush=True)
print("Search index rebuilt: 12 documents", flush=True)
"""


@pytest.fixture(params=["embedded", "celery"])
def story_server(request, transactional_db, settings, tmp_path):
    """A real daphne: deploying in its own thread (embedded), or through Redis on a real
    Celery worker (as in production)."""
    if request.param == "embedded":
        yield request.getfixturevalue("slipway_server")
        return
    workers = request.getfixturevalue("celery_workers")  # skips without Redis
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    settings.SLIPWAY_ARTIFACT_DIR = artifacts  # the worker and the test share the store
    worker = workers.start()
    env = {"DATABASE_URL": database_url(), "REDIS_URL": worker.redis_url, **workers.queues}
    with run_server(artifacts, env=env) as server:
        yield server


@dataclass
class Webshop:
    gate: Path  # create it to let uat's release command go on
    ports: dict[str, int]
    release_script: bytes


@pytest.fixture
def webshop(pipeline, tmp_path):
    """uat and live deploy the sample app for real, into tmp dirs, on free ports."""
    gate = tmp_path / "gate"
    targets = {name: tmp_path / "targets" / name for name in ("uat", "live")}
    ports = {name: free_port() for name in targets}
    release_command = {"uat": "python3 release.py", "live": ""}
    for name, target in targets.items():
        env = pipeline.environments.get(name=name)
        make_local(env, target, ports[name], release_command=release_command[name])
    yield Webshop(gate, ports, RELEASE_SCRIPT.replace("GATE", repr(str(gate))).encode())
    gate.touch()  # a deployment left waiting finishes
    for target in targets.values():
        stop_app(target)


def demo_build(pipeline, demo, webshop: Webshop, *, branch: str):
    """One of the demo's builds with its figures, pushed by CI (auto-deploys by branch)."""
    sha, _, message, author, (passed, failed, skipped), coverage = demo
    data = sampleapp_artifact(sha, message, {"release.py": webshop.release_script})
    tests = {"passed": passed, "failed": failed, "skipped": skipped}
    fields = {"message": message, "author": author, "tests": tests, "coverage": coverage}
    return artifact_build(pipeline, data, sha=sha, branch=branch, **fields)


def the_team_has_been_busy(pipeline, webshop: Webshop):
    """Before the story: the older master build went to uat, then was promoted to live;
    dev runs a work in progress. Deployments run at once, in this process (on commit)."""
    webshop.gate.touch()
    older = demo_build(pipeline, OLDER, webshop, branch="master")
    webshop.gate.unlink()
    live = pipeline.environments.get(name="live")
    deployment = request_deployment(
        live, older, cause=ReleaseCause.PROMOTION, description="promotion from uat"
    )
    deployment.refresh_from_db()
    assert deployment.status == "succeeded", deployment.error
    demo_build(pipeline, DEV, webshop, branch="dev")  # dev records releases, no driver
    return older


def ci_reports(tmp_path, webshop: Webshop):
    """The newer build as CI has it: the artifact, JUnit and Cobertura reports."""
    artifact = tmp_path / "webshop.tar.gz"
    release = {"release.py": webshop.release_script}
    artifact.write_bytes(sampleapp_artifact(NEW_SHA, NEW_MESSAGE, release))
    cases = [f'<testcase classname="shop" name="test_{n}"/>' for n in range(NEW_PASSED)]
    cases += [f'<testcase name="later_{n}"><skipped/></testcase>' for n in range(NEW_SKIPPED)]
    junit = tmp_path / "junit.xml"
    junit.write_text(f'<testsuite name="webshop">{"".join(cases)}</testsuite>')
    coverage = tmp_path / "coverage.xml"
    rate = float(NEW_COVERAGE) / 100
    coverage.write_text(f'<coverage version="7.6" line-rate="{rate:.4f}"><packages/></coverage>')
    return artifact, junit, coverage


def slipway_push(server, token: str, tmp_path, webshop: Webshop) -> None:
    """What CI runs after a green build of master."""
    artifact, junit, coverage = ci_reports(tmp_path, webshop)
    command = [sys.executable, "-m", "pipelines.cli", "push", "--pipeline", "webshop"]
    command += ["--sha", NEW_SHA, "--branch", "master", "--status", "passed"]
    command += ["--message", NEW_MESSAGE, "--author", NEW_AUTHOR, "--artifact", str(artifact)]
    command += ["--junit", str(junit), "--coverage", str(coverage)]
    command += ["--url", f"https://ci.example.com/webshop/{NEW_SHA[:7]}"]
    env = {**os.environ, "SLIPWAY_URL": server.url, "SLIPWAY_TOKEN": token}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "artifact sha256:" in done.stdout


def version_served(port: int) -> str:
    with requests.Session() as session:
        session.trust_env = False
        return session.get(f"http://127.0.0.1:{port}/__version__", timeout=5).json()["sha"]


def test_a_build_goes_from_ci_to_live_with_everyone_in_their_own_browser(
    story_server, pipeline, users, webshop, token_for, new_page, tmp_path
):
    ports = webshop.ports
    older = in_thread(the_team_has_been_busy, pipeline, webshop)
    assert version_served(ports["live"]) == older.sha

    # A developer has the board open when CI reports the build.
    developer = new_page()
    log_in(developer, story_server, "developer")
    expect(developer.locator("[data-live-board]")).to_have_attribute("data-live", "open")
    developer.evaluate("window.sameDocument = true")  # gone if the page ever reloads
    slipway_push(story_server, token_for("developer"), tmp_path, webshop)

    # The uat card shows the deployment; the developer follows it and watches the log.
    deploying = developer.locator('[data-env="uat"] [data-field="deployment"] a')
    with developer.expect_websocket(lambda ws: "/ws/deployments/" in ws.url):
        deploying.click()
    expect(developer).to_have_url(re.compile(r"/deployments/\d+/$"))
    developer.evaluate("window.sameDocument = true")
    log = developer.locator("[data-log]")
    expect(log).to_contain_text("Waiting for the smoke-test data to settle")
    expect(developer.locator('[data-field="progress"]')).to_have_text("step 2 of 4")
    expect(developer.locator('[data-step="release command"]')).to_contain_text("running")
    screenshot(developer, "deployment.png", readme=True)

    webshop.gate.touch()
    expect(log).to_contain_text("Search index rebuilt: 12 documents")
    expect(log).to_contain_text(f"reports {NEW_SHA[:7]}: healthy", timeout=DEPLOY_TIMEOUT_MS)
    expect(developer.locator("#deployment-status")).to_have_attribute("data-status", "succeeded")
    expect(developer.locator('[data-field="progress"]')).to_have_text("step 4 of 4")
    expect(developer.locator('[data-step="health check"]')).to_contain_text("succeeded")
    assert developer.evaluate("window.sameDocument") is True, "the deployment page reloaded"
    assert version_served(ports["uat"]) == NEW_SHA

    # The lead waits on the board; the promote button is off until everyone has signed.
    lead = new_page()
    log_in(lead, story_server, "lead")
    lead.evaluate("window.sameDocument = true")
    expect(lead.locator("[data-live-board]")).to_have_attribute("data-live", "open")
    promote = lead.locator('[data-action="promote"]')
    expect(promote).to_be_disabled()
    uat, live = lead.locator('[data-env="uat"]'), lead.locator('[data-env="live"]')
    expect(uat.locator('[data-field="tests"]')).to_have_text(
        f"{NEW_PASSED} passed, 0 failed, {NEW_SKIPPED} skipped"
    )
    expect(uat.locator('[data-field="coverage"]')).to_have_text(f"{float(NEW_COVERAGE):.1f}%")
    expect(live.locator('[data-field="sha"]')).to_have_text(older.short_sha)
    screenshot(lead, "board.png", readme=True)

    # Sales signs from a phone, support and QA from their desks.
    for name, key, width in (
        ("sales", "not-mid-demo", 390),
        ("support", "not-serving-a-customer", 1280),
        ("qa", "smoke-tested", 1280),
    ):
        signer = new_page(width=width)
        log_in(signer, story_server, name)
        row = signer.locator(f'[data-checklist-item="{key}"]')
        if width == 390:  # what sales sees first on the phone: their sign-off
            screenshot(signer, "signing-phone.png", readme=True, full_page=False)
        row.get_by_role("button", name="Sign").click()
        expect(row).to_contain_text(f"signed by {name}")
        expect(lead.locator(f'[data-checklist-item="{key}"]')).to_contain_text(f"signed by {name}")

    expect(promote).to_be_enabled()  # over the board's WebSocket
    assert lead.evaluate("window.sameDocument") is True, "the lead's board reloaded"
    screenshot(lead, "promotion.png", lead.locator("#promote-live"), readme=True)

    promote.click()
    sentence = lead.locator('#promote-live-dialog [data-field="promote-sentence"]')
    expect(sentence).to_contain_text(f"→ {NEW_SHA[:7]} · 1 commit · 3/3 signed")
    screenshot(lead, "promote-dialog.png", readme=True, full_page=False)
    lead.locator('[data-action="confirm-promote"]').click()

    # Live's card changes for the lead when the deployment ends: the new commit, uat's bytes.
    expect(live.locator('[data-field="sha"]')).to_have_text(NEW_SHA[:7], timeout=DEPLOY_TIMEOUT_MS)
    uat_digest = uat.locator('[data-field="digest"]').get_attribute("title")
    assert uat_digest and uat_digest.startswith("sha256:")
    expect(live.locator('[data-field="digest"]')).to_have_attribute("title", uat_digest)
    expect(live.locator('[data-field="deployment"]')).to_have_count(0)
    assert lead.evaluate("window.sameDocument") is True, "the lead's board reloaded"
    assert version_served(ports["live"]) == NEW_SHA
