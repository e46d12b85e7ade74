"""The board: one card per environment with what runs there and how it was tested."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pipelines.deploys import request_deployment
from pipelines.models import Artifact, Build, Environment, Pipeline, Release
from pipelines.runner.run import run_deployment
from tests.factories import passing_build

pytestmark = pytest.mark.django_db


def deploy(env: Environment, build: Build, **kwargs) -> Release:
    deployment = request_deployment(env, build, cause="manual", **kwargs)
    run_deployment(deployment.pk)
    return deployment.release


def card_html(html: str, env: str) -> str:
    match = re.search(rf'<article[^>]*data-env="{env}".*?</article>', html, re.S)
    assert match, f"no card for {env}"
    return match.group(0)


def test_cards_come_in_pipeline_order(pipeline, client_for):
    html = client_for("developer").get("/pipelines/webshop/").content.decode()
    assert re.findall(r'<article[^>]*data-env="([^"]+)"', html) == ["dev", "uat", "live"]


def test_an_empty_environment_says_what_to_do_next(pipeline, client_for):
    html = client_for("developer").get("/pipelines/webshop/").content.decode()
    assert "A passing build of <code>master</code>" in card_html(html, "uat")
    assert "Promote from uat" in card_html(html, "live")


def test_a_card_shows_the_release_and_how_its_build_was_tested(pipeline, client_for, users):
    uat = pipeline.environments.get(name="uat")
    build = passing_build(
        pipeline,
        "feature/x",
        message="Cart: fix totals\n\nLong body",
        author="Grace",
        tests={"passed": 41, "failed": 0, "skipped": 2},
        coverage="83.25",
    )
    release = deploy(uat, build, by=users["lead"])
    card = card_html(client_for("qa").get("/pipelines/webshop/").content.decode(), "uat")

    assert f'href="https://github.com/acme/webshop/commit/{build.sha}"' in card
    assert re.search(rf'data-field="sha"[^>]*>{build.sha[:7]}<', card)
    assert "Cart: fix totals" in card and "Long body" not in card
    assert "by Grace" in card
    assert f"v{release.version}" in card
    assert "by lead" in card
    assert build.artifact.digest.removeprefix("sha256:")[:12] in card
    assert re.search(r'data-field="tests">41 passed, 0 failed, 2 skipped<', card)
    assert re.search(r'data-field="coverage">83.2%<', card)
    assert "✓ passed" in card  # status in words and symbol, not colour alone


def test_a_build_without_reports_says_so(pipeline, client_for):
    from pipelines.builds import record_build

    build, _ = record_build(pipeline, sha="d" * 40, branch="master", status="running")
    deploy(pipeline.environments.get(name="dev"), build)
    card = card_html(client_for("qa").get("/pipelines/webshop/").content.decode(), "dev")
    assert 'data-field="tests">not reported<' in card
    assert 'data-field="coverage">not reported<' in card


def test_a_card_says_how_far_it_is_ahead_downstream_with_a_compare_link(pipeline, client_for):
    uat, live = pipeline.environments.get(name="uat"), pipeline.environments.get(name="live")
    old = passing_build(pipeline, "master")
    deploy(live, old)
    passing_build(pipeline, "dev")  # another branch does not count
    passing_build(pipeline, "master")
    newest = passing_build(pipeline, "master")
    deploy(uat, newest)

    card = card_html(client_for("developer").get("/pipelines/webshop/").content.decode(), "uat")
    assert "2 builds ahead of live" in card
    assert f"https://github.com/acme/webshop/compare/{old.sha}...{newest.sha}" in card


def test_a_lock_shows_who_locked_and_why(pipeline, client_for, users):
    from pipelines.models import Lock

    live = pipeline.environments.get(name="live")
    Lock.objects.create(
        pipeline=pipeline, environment=live, owner=users["lead"], reason="Black Friday freeze"
    )
    card = card_html(client_for("sales").get("/pipelines/webshop/").content.decode(), "live")
    assert "Locked by lead" in card and "Black Friday freeze" in card


def test_the_promotion_panel_shows_candidate_checklist_and_a_disabled_button(pipeline, client_for):
    build = passing_build(pipeline, "master")
    deploy(pipeline.environments.get(name="uat"), build)
    html = client_for("lead").get("/pipelines/webshop/").content.decode()
    panel = re.search(r'<section class="promotion".*?</section>', html, re.S).group(0)
    assert "Promote uat → live" in panel
    assert build.short_sha in panel
    for key in ("not-mid-demo", "not-serving-a-customer", "smoke-tested"):
        assert f'data-checklist-item="{key}"' in panel
    assert re.search(r'data-action="promote"[^>]*disabled', panel)


def big_pipeline(environments: int, builds: int) -> Pipeline:
    pipeline = Pipeline.objects.create(
        name=f"big-{environments}", repository_url="https://gitlab.com/acme/big"
    )
    envs = [
        Environment.objects.create(pipeline=pipeline, name=f"env{i}", position=i, branch="main")
        for i in range(environments)
    ]
    artifact = Artifact.objects.create(digest=f"sha256:{environments:064x}", size=10)
    start = timezone.now() - timedelta(days=30)
    made = Build.objects.bulk_create(
        Build(
            pipeline=pipeline,
            sha=f"{n:040x}",
            branch="main",
            status="passed",
            tests_passed=n,
            tests_failed=0,
            tests_skipped=0,
            coverage=80,
            artifact=artifact,
        )
        for n in range(builds)
    )
    Build.objects.filter(pipeline=pipeline).update(created_at=start)
    for n, build in enumerate(made):  # spread over time so builds-ahead has work to do
        Build.objects.filter(pk=build.pk).update(created_at=start + timedelta(minutes=n))
    for i, env in enumerate(envs):
        for version in range(1, 4):
            release = Release.objects.create(
                environment=env,
                version=version,
                cause="manual",
                build=made[-1 - i * 10 - version],
                artifact=artifact,
                deployed_at=timezone.now(),
            )
        env.current_release = release
        env.save()
    return pipeline


def count_board_queries(client, pipeline: Pipeline) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/pipelines/{pipeline.name}/")
    assert response.status_code == 200
    return len(queries)


def test_the_board_takes_the_same_few_queries_whatever_the_size(
    client_for, users, django_assert_num_queries
):
    client = client_for("developer")
    small = count_board_queries(client, big_pipeline(environments=2, builds=30))
    big = big_pipeline(environments=10, builds=1000)
    with django_assert_num_queries(small):
        response = client.get(f"/pipelines/{big.name}/")
    assert response.content.decode().count("data-env=") == 10
    assert "builds ahead of env" in response.content.decode()
