"""A bad pipeline.toml is refused, naming file, line, environment and field, and changes
nothing."""

import pytest

from pipelines.audit import record
from pipelines.config import load_pipeline_file, load_pipeline_text
from pipelines.errors import ConfigError
from tests.loading import GOOD_TOML, changed, release_on, snapshot, write

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
        '[pipeline]: unknown key "repository" '
        "(allowed: name, repository_url, notifications, public_badges, freezes)",
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
    "a_branch_on_an_environment_with_a_checklist": (
        ('promote_from = "uat"', 'promote_from = "uat"\nbranch = "release/*"'),
        22,
        'environment "live": branch "release/*" would deploy builds here without the '
        "checklist: an environment with a checklist is reached by promotion only",
        "branch",
    ),
    "a_secret_value_written_in_the_file": (
        (
            'deploy_command = "./deploy.sh uat"',
            'deploy_command = "./deploy.sh uat"\nsecrets = { TOKEN = "hunter2 is the token" }',
        ),
        18,
        'environment "uat": secrets: TOKEN = "hunter2 is the token" must name the server '
        "variable that holds the secret",
        "secrets",
    ),
    "an_env_value_that_is_not_a_string": (
        ('deploy_command = "./deploy.sh uat"', 'deploy_command = "x"\nenv = { WORKERS = 4 }'),
        18,
        'environment "uat": env: WORKERS must be a string, not an integer',
        "env",
    ),
    "an_env_name_slipway_sets_itself": (
        ('deploy_command = "./deploy.sh uat"', 'deploy_command = "x"\nenv = { SLIPWAY_SHA = "0" }'),
        18,
        'environment "uat": env: SLIPWAY_SHA is set by Slipway itself',
        "env",
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
