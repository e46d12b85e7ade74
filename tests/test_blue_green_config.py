"""strategy = "blue-green" in pipeline.toml: what it needs, checked with file, line and field."""

import pytest

from pipelines.config import parse_pipeline_text
from pipelines.errors import ConfigError

LIVE = """[pipeline]
name = "webshop"

[[environments]]
name = "live"
driver = "local"
path = "var/targets/live"
strategy = "blue-green"
router = "nginx"
upstream_file = "var/nginx/live.conf"
reload_command = "nginx -t && nginx -s reload"
blue_port = 8113
green_port = 8123
restart_command = "python3 current/control.py restart --port {port} --pidfile app.pid"
health_url = "http://127.0.0.1:{port}/__version__"
mirror = true
"""


def test_a_blue_green_environment_is_read_with_all_its_settings():
    settings = parse_pipeline_text(LIVE, "pipeline.toml").environments[0].driver_settings
    assert settings["strategy"] == "blue-green"
    assert (settings["blue_port"], settings["green_port"], settings["mirror"]) == (8113, 8123, True)


BAD = {
    "an unknown strategy": ('strategy = "blue-green"', 'strategy = "canary"', "strategy", 8),
    "an unknown router": ('router = "nginx"', 'router = "haproxy"', "router", 9),
    "the same port twice": ("green_port = 8123", "green_port = 8113", "green_port", 13),
    "a port out of range": ("blue_port = 8113", "blue_port = 70000", "blue_port", 12),
    "a port as a string": ("blue_port = 8113", 'blue_port = "8113"', "blue_port", 12),
    "no reload command": ('reload_command = "nginx -t && nginx -s reload"\n', "", "strategy", 8),
    "a health url without {port}": ("{port}/__version__", "8113/__version__", "health_url", 15),
    "mirror as a string": ("mirror = true", 'mirror = "yes"', "mirror", 16),
    "blue-green settings without the strategy": (
        'strategy = "blue-green"\n',
        "",
        "router",
        8,
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_blue_green_setting_is_refused_naming_line_and_field(case):
    old, new, field, line = BAD[case]
    text = LIVE.replace(old, new, 1)
    with pytest.raises(ConfigError) as refused:
        parse_pipeline_text(text, "pipeline.toml")
    error = refused.value
    assert (error.details["field"], error.details["line"]) == (field, line), error.message
    assert error.message.startswith(f'pipeline.toml, line {line}: environment "live": ')
