"""A per-branch template in pipeline.toml: its keys checked, naming file, line and key; a
guarded environment never a template; loading again never deletes a branch environment."""

import pytest

from pipelines.config import load_pipeline_text, parse_pipeline_text
from pipelines.errors import ConfigError
from pipelines.models import Environment

TEMPLATE = """\
[pipeline]
name = "shop"

[[environments]]
name = "dev"
branch = "master"

[[environments]]
name = "feature"
per_branch = true
branch = "feature/*"
driver = "local"
path = "/srv/shop/{branch}"
restart_command = "python3 current/control.py restart --port {port} --pidfile app.pid"
health_url = "http://127.0.0.1:{port}/__version__"
stop_command = "python3 current/control.py stop --pidfile app.pid"
ports = "9100-9199"
idle_days = 14
"""


def test_a_template_keeps_its_keys_for_the_branches_it_makes():
    config = parse_pipeline_text(TEMPLATE, "shop.toml")
    feature = config.environments[1]
    assert feature.per_branch
    assert feature.branch_settings == {
        "ports": [9100, 9199],
        "idle_days": 14,
        "stop_command": "python3 current/control.py stop --pidfile app.pid",
    }
    assert feature.driver_settings["path"] == "/srv/shop/{branch}"


REFUSED = {
    "a_checklist": (
        TEMPLATE + '[[environments.checklist]]\nkey = "qa"\nlabel = "QA"\nrole = "qa"\n',
        'environment "feature": per_branch with a checklist: a guarded environment can never '
        "be a per-branch template",
        "per_branch",
        10,
    ),
    "promote_from": (
        TEMPLATE.replace("per_branch = true\n", 'per_branch = true\npromote_from = "dev"\n'),
        'environment "feature": per_branch with promote_from: a guarded environment',
        "per_branch",
        10,
    ),
    "promoted_from": (
        TEMPLATE + '\n[[environments]]\nname = "live"\npromote_from = "feature"\n',
        'environment "live": promote_from "feature" is a per-branch template',
        "promote_from",
        22,
    ),
    "a_path_without_branch": (
        TEMPLATE.replace("/srv/shop/{branch}", "/srv/shop"),
        "path must say {branch}",
        "path",
        13,
    ),
    "port_without_ports": (
        TEMPLATE.replace('ports = "9100-9199"\n', ""),
        '{port} needs ports = "low-high"',
        "per_branch",
        10,
    ),
    "a_bad_range": (
        TEMPLATE.replace("9100-9199", "9199-9100"),
        'ports "9199-9100" must be a range like "9100-9199"',
        "ports",
        17,
    ),
    "a_privileged_port": (
        TEMPLATE.replace("9100-9199", "80-90"),
        'ports "80-90" must be a range',
        "ports",
        17,
    ),
    "idle_days_zero": (
        TEMPLATE.replace("idle_days = 14", "idle_days = 0"),
        "idle_days",
        "idle_days",
        18,
    ),
    "idle_days_text": (
        TEMPLATE.replace("idle_days = 14", 'idle_days = "2w"'),
        "idle_days must be an integer",
        "idle_days",
        18,
    ),
    "no_glob": (
        TEMPLATE.replace('branch = "feature/*"\n', ""),
        'per_branch needs a branch glob like branch = "feature/*"',
        "per_branch",
        10,
    ),
    "template_keys_without_per_branch": (
        TEMPLATE.replace("per_branch = true\n", ""),
        "ports needs per_branch = true",
        "ports",
        16,
    ),
    "branch_placeholder_without_per_branch": (
        TEMPLATE.replace("per_branch = true\n", "").split("stop_command")[0],
        "path says {branch}, which needs per_branch = true",
        "path",
        12,
    ),
    "a_bad_delete_role": (
        TEMPLATE + 'delete_role = "boss"\n',
        'delete_role "boss" is not one of',
        "delete_role",
        19,
    ),
    "heroku": (
        TEMPLATE.split("driver =")[0]
        + 'driver = "heroku"\napp = "x-{branch}"\napi_token_env = "T"\n',
        'driver "heroku" cannot deploy per branch',
        "per_branch",
        10,
    ),
}


@pytest.mark.parametrize("text, message, key, line", REFUSED.values(), ids=REFUSED.keys())
def test_a_bad_template_is_refused_naming_file_line_and_key(text, message, key, line):
    with pytest.raises(ConfigError) as refused:
        parse_pipeline_text(text, "shop.toml")
    assert message in refused.value.message
    assert refused.value.message.startswith(f"shop.toml, line {line}: ")
    assert refused.value.details["field"] == key


@pytest.mark.django_db
def test_a_guarded_environment_in_the_database_is_not_made_a_template_either():
    load_pipeline_text(TEMPLATE, "shop.toml")
    with pytest.raises(ConfigError):
        load_pipeline_text(
            TEMPLATE + '[[environments.checklist]]\nkey = "qa"\nlabel = "QA"\nrole = "qa"\n',
            "shop.toml",
        )
    assert not Environment.objects.get(name="feature").checklist_items.exists()


def test_the_commented_template_of_the_example_file_loads_when_uncommented(settings):
    example = (settings.BASE_DIR / "examples" / "webshop.toml").read_text()
    start = example.index('# [[environments]]\n# name = "review"')
    block = example[start : example.index("\n\n", start)]
    text = '[pipeline]\nname = "shop"\n\n' + "\n".join(line[2:] for line in block.splitlines())

    review = parse_pipeline_text(text, "webshop.toml").environments[0]

    assert review.per_branch and review.branch == "feature/*"
    assert review.branch_settings["ports"] == [8130, 8179]
    assert review.branch_settings["delete_role"] == "developer"
