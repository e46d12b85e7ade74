"""Loading pipeline.toml: create, update, never delete."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings

from pipelines.config import (
    apply_pipeline,
    load_pipeline_file,
    load_pipeline_text,
    parse_duration,
    parse_pipeline_text,
)
from pipelines.models import AuditEvent, ChecklistItem, Pipeline, Release
from tests.conftest import EXAMPLE_TOML
from tests.loading import GOOD_TOML, changed, release_on, snapshot, without_environment


def test_it_creates_the_pipeline(webshop):
    assert webshop.name == "webshop"
    assert webshop.repository_url == "https://github.com/acme/webshop"
    assert Pipeline.objects.count() == 1


def test_it_creates_environments_in_file_order(webshop):
    envs = list(webshop.environments.order_by("position"))
    assert [(e.name, e.position) for e in envs] == [("dev", 0), ("uat", 1), ("live", 2)]
    assert [e.branch for e in envs] == ["dev", "master", ""]


def test_it_links_promote_from_within_the_pipeline(webshop):
    live = webshop.environments.get(name="live")
    assert live.promote_from == webshop.environments.get(name="uat")
    assert webshop.environments.get(name="uat").promote_from is None


def test_it_creates_the_checklist_with_validity_as_timedelta(webshop):
    items = ChecklistItem.objects.filter(environment__name="live").order_by("position")
    assert [(i.key, i.label, i.role, i.valid_for, i.position) for i in items] == [
        ("not-mid-demo", "Sales: not mid-demo", "sales", timedelta(minutes=30), 0),
        ("smoke-tested", "QA: smoke-tested on uat", "qa", timedelta(hours=1, minutes=30), 1),
    ]


def test_it_stores_driver_settings_on_each_environment(webshop):
    envs = {e.name: e for e in webshop.environments.all()}
    assert envs["dev"].driver == "local"
    assert envs["dev"].driver_settings == {
        "path": "var/targets/dev",
        "health_url": "http://127.0.0.1:8101/__version__",
        "health_timeout": 30,
    }
    assert envs["uat"].driver == "script"
    assert envs["uat"].driver_settings == {"deploy_command": "./deploy.sh uat"}
    assert envs["live"].driver == "heroku"
    assert envs["live"].driver_settings == {
        "app": "acme-webshop",
        "api_token_env": "HEROKU_API_TOKEN",
    }


def test_an_environment_without_driver_records_only(pipeline):
    assert {e.driver for e in pipeline.environments.all()} == {""}
    assert {str(e.driver_settings) for e in pipeline.environments.all()} == {"{}"}


def test_it_records_one_audit_event(webshop, good_file):
    event = AuditEvent.objects.get()
    assert event.action == "pipeline_loaded"
    assert event.pipeline == webshop
    assert event.data["source"] == str(good_file)
    assert event.data["environments_created"] == ["dev", "uat", "live"]
    assert event.data["items_created"] == ["live/not-mid-demo", "live/smoke-tested"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("45s", timedelta(seconds=45)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d", timedelta(days=1)),
        ("30", None),
        ("30 min", None),
        ("m30", None),
        ("0m", None),
        ("", None),
    ],
)
def test_it_reads_durations(text, expected):
    assert parse_duration(text) == expected


def test_the_example_file_loads(db):
    pipeline = load_pipeline_file(Path(settings.BASE_DIR) / "examples" / "webshop.toml")
    assert [e.name for e in pipeline.environments.order_by("position")] == ["dev", "uat", "live"]
    live = pipeline.environments.get(name="live")
    assert live.promote_from.name == "uat"
    assert [(i.key, i.role, i.valid_for) for i in live.checklist_items.order_by("position")] == [
        ("not-mid-demo", "sales", timedelta(minutes=30)),
        ("not-serving-a-customer", "support", None),
        ("smoke-tested", "qa", None),
    ]


# Loading again


def test_reloading_an_unchanged_file_changes_nothing(pipeline):
    before = snapshot()
    report = apply_pipeline(parse_pipeline_text(EXAMPLE_TOML))
    assert report.outcome == "unchanged"
    assert report.environments_unchanged == ["dev", "uat", "live"]
    assert report.environments_created == report.environments_updated == []
    assert report.items_created == report.items_updated == []
    assert snapshot() == {**before, "audit_events": before["audit_events"] + 1}


def test_reloading_updates_labels_and_adds_environments(webshop):
    text = changed(GOOD_TOML, 'label = "QA: smoke-tested on uat"', 'label = "QA: tested on uat"')
    uat = '[[environments]]\nname = "uat"'
    text = changed(text, uat, f'[[environments]]\nname = "qa-box"\n\n{uat}')

    report = apply_pipeline(parse_pipeline_text(text))

    assert report.environments_created == ["qa-box"]
    assert report.environments_updated == ["uat", "live"]  # they moved down one place
    assert report.environments_unchanged == ["dev"]
    assert report.items_updated == ["live/smoke-tested"]
    envs = webshop.environments.order_by("position").values_list("name", "position")
    assert list(envs) == [("dev", 0), ("qa-box", 1), ("uat", 2), ("live", 3)]
    assert ChecklistItem.objects.get(key="smoke-tested").label == "QA: tested on uat"


def test_reloading_updates_the_repository_url(webshop):
    text = changed(GOOD_TOML, "acme/webshop", "acme/shop")
    assert apply_pipeline(parse_pipeline_text(text)).outcome == "updated"
    webshop.refresh_from_db()
    assert webshop.repository_url == "https://github.com/acme/shop"


def test_reloading_can_drop_promote_from(webshop):
    load_pipeline_text(changed(GOOD_TOML, 'promote_from = "uat"\n', ""))
    assert webshop.environments.get(name="live").promote_from is None


def test_it_never_deletes_an_environment_left_out_of_the_file(webshop):
    dev = webshop.environments.get(name="dev")
    release = release_on(dev)
    report = apply_pipeline(parse_pipeline_text(without_environment(GOOD_TOML, "dev")))

    assert report.environments_left_out == ["dev"]
    assert Release.objects.filter(pk=release.pk, environment=dev).exists()
    assert webshop.environments.filter(name="dev").exists()
    assert "dev" in report.warnings()[0]


def test_it_retires_checklist_items_left_out_of_the_file_and_says_so(webshop):
    last_item = GOOD_TOML[GOOD_TOML.rindex("[[environments.checklist]]") :]
    report = apply_pipeline(parse_pipeline_text(changed(GOOD_TOML, last_item, "")))
    assert report.items_left_out == ["live/smoke-tested"]
    item = ChecklistItem.objects.get(key="smoke-tested")  # kept: sign-offs refer to it
    assert item.retired_at is not None
    assert ChecklistItem.objects.get(key="not-mid-demo").retired_at is None
    assert report.warnings() == [
        "webshop: checklist items not in <string> were retired (kept with their history, "
        "no longer gating promotion): live/smoke-tested"
    ]


def test_a_retired_checklist_item_comes_back_when_the_file_lists_it_again(webshop):
    last_item = GOOD_TOML[GOOD_TOML.rindex("[[environments.checklist]]") :]
    apply_pipeline(parse_pipeline_text(changed(GOOD_TOML, last_item, "")))
    report = apply_pipeline(parse_pipeline_text(GOOD_TOML))
    assert ChecklistItem.objects.get(key="smoke-tested").retired_at is None
    assert report.items_updated == ["live/smoke-tested"]
    assert report.warnings() == []
