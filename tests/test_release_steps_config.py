"""The release steps' keys in pipeline.toml (maintenance_on_command, backup_command,
release_command, maintenance_off_command, backup_timeout): read per driver, and refused
with file, line, environment and field when they cannot work."""

import pytest

from pipelines.config import parse_pipeline_text, read_pipeline_file
from pipelines.errors import ConfigError

FILE = """[pipeline]
name = "webshop"

[[environments]]
name = "uat"
driver = "script"
deploy_command = "./deploy.sh"
maintenance_on_command = "./maintenance on"
backup_command = "pg_dump webshop > backups/$SLIPWAY_VERSION.sql"
backup_timeout = "45m"
release_command = "./manage.py migrate"
maintenance_off_command = "./maintenance off"

[[environments]]
name = "live"
driver = "heroku"
app = "webshop-live"
api_token_env = "HEROKU_API_TOKEN"
backup_command = "heroku pg:backups:capture --app webshop-live"
"""


def test_the_keys_are_read_and_the_backup_timeout_becomes_seconds():
    uat, live = parse_pipeline_text(FILE, "pipeline.toml").environments
    assert uat.driver_settings["maintenance_on_command"] == "./maintenance on"
    assert uat.driver_settings["release_command"] == "./manage.py migrate"
    assert uat.driver_settings["backup_timeout"] == 2700
    assert live.driver_settings["backup_command"].startswith("heroku pg:backups:capture")


def test_the_example_pipeline_gives_live_all_four_commands():
    live = read_pipeline_file("examples/webshop.toml").environments[-1]
    for key in ("maintenance_on_command", "backup_command", "release_command"):
        assert live.driver_settings[key], key
    assert live.driver_settings["maintenance_off_command"]


BAD = {
    "maintenance on without off": (
        'maintenance_off_command = "./maintenance off"\n',
        "",
        "maintenance_on_command",
        8,
        "maintenance_on_command needs maintenance_off_command",
    ),
    "maintenance off without on": (
        'maintenance_on_command = "./maintenance on"\n',
        "",
        "maintenance_off_command",
        11,
        "maintenance_off_command needs maintenance_on_command",
    ),
    "an empty backup command": (
        'backup_command = "pg_dump webshop > backups/$SLIPWAY_VERSION.sql"',
        'backup_command = "  "',
        "backup_command",
        9,
        "backup_command must not be empty (leave it out to skip the step)",
    ),
    "a backup timeout of nothing": (
        'backup_timeout = "45m"',
        'backup_timeout = "soon"',
        "backup_timeout",
        10,
        "backup_timeout must be seconds above 0",
    ),
    "a backup timeout past a day": (
        'backup_timeout = "45m"',
        "backup_timeout = 90000",
        "backup_timeout",
        10,
        "backup_timeout must be seconds above 0 and at most 86400",
    ),
    "a backup timeout without a backup": (
        'backup_command = "pg_dump webshop > backups/$SLIPWAY_VERSION.sql"\n',
        "",
        "backup_timeout",
        9,
        "backup_timeout needs backup_command",
    ),
    "a command as a number": (
        'release_command = "./manage.py migrate"',
        "release_command = 1",
        "release_command",
        11,
        "release_command must be a string, not an integer",
    ),
    "a command of 5000 characters": (
        'release_command = "./manage.py migrate"',
        f'release_command = "{"x" * 5000}"',
        "release_command",
        11,
        "release_command is longer than 4096 characters",
    ),
    "maintenance commands on heroku": (
        'backup_command = "heroku pg',
        'maintenance_on_command = "x"\nbackup_command = "heroku pg',
        "maintenance_on_command",
        19,
        'maintenance_on_command is not for driver "heroku": it turns the app\'s maintenance',
    ),
    "a backup without a driver": (
        'driver = "heroku"\n',
        "",
        "backup_command",
        18,
        "backup_command needs a driver: without one a deployment only records the release",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_release_step_is_refused_naming_line_and_field(case):
    old, new, field, line, problem = BAD[case]
    assert old in FILE
    text = FILE.replace(old, new, 1)
    with pytest.raises(ConfigError) as refused:
        parse_pipeline_text(text, "pipeline.toml")
    error = refused.value
    assert (error.details["field"], error.details["line"]) == (field, line), error.message
    environment = "live" if line > 13 else "uat"
    assert error.message.startswith(
        f'pipeline.toml, line {line}: environment "{environment}": {problem}'
    ), error.message
