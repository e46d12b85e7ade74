"""Loading pipeline.toml: create, update, never delete, and refuse bad files untouched."""

import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from pipelines.audit import record
from pipelines.config import (
    apply_pipeline,
    load_pipeline_file,
    load_pipeline_text,
    parse_duration,
    parse_pipeline_text,
)
from pipelines.errors import ConfigError
from pipelines.models import (
    AuditEvent,
    Build,
    ChecklistItem,
    Environment,
    Pipeline,
    Release,
    ReleaseCause,
)
from tests.conftest import EXAMPLE_TOML

# Line numbers in the bad-file tests below count from here: "[pipeline]" is line 1.
GOOD_TOML = """[pipeline]
name = "webshop"
repository_url = "https://github.com/acme/webshop"

[[environments]]
name = "dev"
branch = "dev"
driver = "local"
path = "var/targets/dev"
health_url = "http://127.0.0.1:8101/__version__"
health_timeout = 30

[[environments]]
name = "uat"
branch = "master"
driver = "script"
deploy_command = "./deploy.sh uat"

[[environments]]
name = "live"
promote_from = "uat"
driver = "heroku"
app = "acme-webshop"
api_token_env = "HEROKU_API_TOKEN"

[[environments.checklist]]
key = "not-mid-demo"
label = "Sales: not mid-demo"
role = "sales"
valid_for = "30m"

[[environments.checklist]]
key = "smoke-tested"
label = "QA: smoke-tested on uat"
role = "qa"
valid_for = "1h30m"
"""


def changed(text: str, old: str, new: str) -> str:
    assert old in text, f"{old!r} is not in the file"
    return text.replace(old, new, 1)


def without_environment(text: str, name: str) -> str:
    start = text.index(f'[[environments]]\nname = "{name}"')
    end = text.find("[[environments]]", start + 1)
    return text[:start] + (text[end:] if end != -1 else "")


def write(tmp_path: Path, text: str, name: str = "pipeline.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def snapshot() -> dict:
    """Everything a load may write, to compare before and after a failed one."""
    return {
        "pipelines": list(Pipeline.objects.order_by("pk").values_list("name", "repository_url")),
        "environments": list(
            Environment.objects.order_by("pk").values_list(
                "name", "position", "branch", "promote_from__name", "driver", "driver_settings"
            )
        ),
        "items": list(
            ChecklistItem.objects.order_by("pk").values_list(
                "environment__name", "key", "label", "role", "valid_for", "position"
            )
        ),
        "audit_events": AuditEvent.objects.count(),
    }


def release_on(env: Environment) -> Release:
    build = Build.objects.create(pipeline=env.pipeline, sha="a" * 40, status="passed")
    return Release.objects.create(
        environment=env, version=1, build=build, cause=ReleaseCause.MANUAL
    )


@pytest.fixture
def good_file(tmp_path) -> Path:
    return write(tmp_path, GOOD_TOML)


@pytest.fixture
def webshop(db, good_file) -> Pipeline:
    return load_pipeline_file(good_file)


# A good file


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


# Bad files: the message names file, line, environment and field; the database stays as it was


BAD_FILES = {
    "toml_syntax_error": (
        ('branch = "dev"', "branch = dev"),
        7,
        "not valid TOML: Invalid value",
        None,
    ),
    "missing_pipeline_name": (
        ('name = "webshop"\n', ""),
        1,
        "[pipeline]: name is required",
        "name",
    ),
    "unknown_pipeline_key": (
        ("repository_url =", "repository ="),
        3,
        '[pipeline]: unknown key "repository" (allowed: name, repository_url, notifications)',
        "repository",
    ),
    "unknown_environment_key": (
        ('branch = "master"', 'brnach = "master"'),
        15,
        'environment "uat": unknown key "brnach"',
        "brnach",
    ),
    "unknown_top_level_table": (
        ('[[environments]]\nname = "dev"', '[[environment]]\nname = "dev"'),
        5,
        'unknown top-level key "environment"',
        "environment",
    ),
    "bad_role": (
        ('role = "qa"', 'role = "tester"'),
        35,
        'environment "live": checklist item "smoke-tested": role "tester" is not one of lead, '
        "developer, sales, support, qa",
        "role",
    ),
    "bad_valid_for": (
        ('valid_for = "30m"', 'valid_for = "30 min"'),
        30,
        'environment "live": checklist item "not-mid-demo": valid_for "30 min" is not a duration',
        "valid_for",
    ),
    "promote_from_unknown": (
        ('promote_from = "uat"', 'promote_from = "stage"'),
        21,
        'environment "live": promote_from "stage" is not an environment of this pipeline '
        "(have: dev, uat, live)",
        "promote_from",
    ),
    "promote_from_itself": (
        ('promote_from = "uat"', 'promote_from = "live"'),
        21,
        'environment "live": promote_from names the environment itself',
        "promote_from",
    ),
    "promote_from_cycle": (
        ('branch = "master"', 'branch = "master"\npromote_from = "live"'),
        16,
        'environment "uat": promote_from makes a cycle: uat → live → uat',
        "promote_from",
    ),
    "duplicate_environment_name": (
        ('name = "uat"', 'name = "dev"'),
        14,
        'environments[1]: name "dev" is already used by environments[0]',
        "name",
    ),
    "bad_environment_name": (
        ('name = "uat"', 'name = "User Acceptance"'),
        14,
        'environments[1]: name "User Acceptance" may hold only letters, digits',
        "name",
    ),
    "duplicate_checklist_key": (
        ('key = "smoke-tested"', 'key = "not-mid-demo"'),
        33,
        'environment "live": checklist[1]: key "not-mid-demo" is already used by checklist[0]',
        "key",
    ),
    "local_driver_without_path": (
        ('path = "var/targets/dev"\n', ""),
        8,
        'environment "dev": driver "local" needs path',
        "driver",
    ),
    "unknown_driver": (
        ('driver = "script"', 'driver = "ftp"'),
        16,
        'environment "uat": driver "ftp" is not one of "", "local", "script", "heroku"',
        "driver",
    ),
    "setting_of_another_driver": (
        ('deploy_command = "./deploy.sh uat"', 'deploy_command = "x"\nhealth_url = "http://x"'),
        18,
        'environment "uat": health_url is a setting of driver "local", but it has driver "script"',
        "health_url",
    ),
    "heroku_without_token_variable": (
        ('api_token_env = "HEROKU_API_TOKEN"\n', ""),
        22,
        'environment "live": driver "heroku" needs api_token_env',
        "driver",
    ),
    "setting_of_the_wrong_type": (
        ("health_timeout = 30", 'health_timeout = "30s"'),
        11,
        'environment "dev": health_timeout must be an integer or a float, not a string',
        "health_timeout",
    ),
}


@pytest.mark.parametrize("edit, line, message, field", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_is_refused_and_changes_nothing(webshop, tmp_path, edit, line, message, field):
    release_on(webshop.environments.get(name="live"))
    before = snapshot()
    path = write(tmp_path, changed(GOOD_TOML, *edit), name="bad.toml")

    with pytest.raises(ConfigError) as caught:
        load_pipeline_file(path)

    assert caught.value.message.startswith(f"{path}, line {line}: {message}")
    assert caught.value.details["line"] == line
    assert caught.value.details.get("field") == field
    assert snapshot() == before


def test_a_bad_file_for_a_new_pipeline_creates_nothing(db):
    bad = changed(GOOD_TOML, 'role = "qa"', 'role = "tester"')
    with pytest.raises(ConfigError):
        load_pipeline_text(bad, source="new.toml")
    assert snapshot() == {"pipelines": [], "environments": [], "items": [], "audit_events": 0}


def test_a_failure_while_writing_rolls_everything_back(webshop, monkeypatch):
    before = snapshot()

    def broken_record(*args, **kwargs):
        record(*args, **kwargs)
        raise RuntimeError("the audit log is down")

    monkeypatch.setattr("pipelines.config.apply.record", broken_record)
    text = changed(GOOD_TOML, 'label = "QA: smoke-tested on uat"', 'label = "QA: done"')
    with pytest.raises(RuntimeError):
        load_pipeline_text(changed(text, 'name = "dev"', 'name = "dev2"'))
    assert snapshot() == before


def test_a_missing_file_is_a_config_error(db, tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read it: No such file"):
        load_pipeline_file(tmp_path / "missing.toml")


def test_an_error_names_the_source_of_text(db):
    with pytest.raises(ConfigError, match=r"^<string>, line 1: not valid TOML"):
        load_pipeline_text("[pipeline\n")


def test_a_file_without_environments_is_refused(db):
    with pytest.raises(ConfigError, match=r"^x\.toml: at least one \[\[environments\]\] table"):
        load_pipeline_text('[pipeline]\nname = "webshop"\n', source="x.toml")


# The management command


def test_the_command_prints_a_summary(db, good_file):
    out, err = StringIO(), StringIO()
    call_command("load_pipeline", str(good_file), stdout=out, stderr=err)
    assert out.getvalue() == (
        f"webshop (created from {good_file}): environments 3 created (dev, uat, live), "
        "0 updated, 0 unchanged; checklist items 2 created, 0 updated\n"
    )
    assert err.getvalue() == ""
    assert Environment.objects.count() == 3


def test_the_command_warns_about_environments_left_out(webshop, tmp_path):
    release_on(webshop.environments.get(name="dev"))
    path = write(tmp_path, without_environment(GOOD_TOML, "dev"), name="no-dev.toml")
    out, err = StringIO(), StringIO()

    call_command("load_pipeline", str(path), stdout=out, stderr=err)

    assert "0 created, 2 updated (uat, live)" in out.getvalue()
    assert err.getvalue() == (
        f"Warning: webshop: environments not in {path} were kept (loading never deletes them): "
        "dev\n"
    )
    assert webshop.environments.filter(name="dev", releases__version=1).exists()


def test_the_command_raises_command_error_on_a_bad_file(webshop, tmp_path):
    before = snapshot()
    path = write(tmp_path, changed(GOOD_TOML, 'role = "qa"', 'role = "tester"'))
    with pytest.raises(CommandError, match=rf'^{path}, line 35: environment "live"'):
        call_command("load_pipeline", str(path), stdout=StringIO(), stderr=StringIO())
    assert snapshot() == before


def test_the_command_checks_every_file_before_loading_any(db, tmp_path, good_file):
    other = changed(GOOD_TOML, 'name = "webshop"', 'name = "backoffice"')
    bad = write(tmp_path, changed(other, "health_timeout = 30", "health_timeout = -1"), "b.toml")
    with pytest.raises(CommandError, match="health_timeout must be a number of seconds above 0"):
        call_command("load_pipeline", str(good_file), str(bad), stdout=StringIO())
    assert Pipeline.objects.count() == 0


def test_the_command_refuses_two_files_for_one_pipeline(db, tmp_path, good_file):
    copy = write(tmp_path, GOOD_TOML, name="copy.toml")
    with pytest.raises(CommandError, match='pipeline "webshop" is also defined in'):
        call_command("load_pipeline", str(good_file), str(copy), stdout=StringIO())
    assert Pipeline.objects.count() == 0


def test_the_command_exits_1_with_the_message_on_stderr(tmp_path):
    path = write(tmp_path, changed(GOOD_TOML, 'promote_from = "uat"', 'promote_from = "stage"'))
    done = subprocess.run(
        [sys.executable, "manage.py", "load_pipeline", str(path)],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert (
        f'{path}, line 21: environment "live": promote_from "stage" is not an environment of '
        "this pipeline (have: dev, uat, live)"
    ) in done.stderr
