"""Production settings: the README's pass Django's deployment checks, production mode needs a
SECRET_KEY, the local key file is private, and SLIPWAY_HTTPS secures cookies and transport."""

import os
import stat
import subprocess
import sys

import pytest
import requests
from django.conf import settings
from django.core.checks import run_checks

from scripts.check_deploy import check_deploy, readme_production_env
from tests.live import run_server

SETTINGS_ONLY = (
    "import django; django.setup(); from django.conf import settings; settings.SECRET_KEY"
)


def start_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Load Slipway's settings in a fresh process with only `env` (plus PATH)."""
    return subprocess.run(
        [sys.executable, "-c", SETTINGS_ONLY],
        cwd=settings.BASE_DIR,
        env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "dashboard.settings", **env},
        capture_output=True,
        text=True,
    )


def test_the_readme_production_settings_pass_check_deploy_with_warnings_as_errors():
    result = check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("variable", ["DATABASE_URL", "REDIS_URL"])
def test_production_mode_without_a_secret_key_refuses_to_start(tmp_path, variable):
    value = "postgres://slipway@db/slipway" if variable == "DATABASE_URL" else "redis://r:6379/0"
    result = start_settings({variable: value, "SLIPWAY_VAR_DIR": str(tmp_path)})

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert not (tmp_path / "secret-key").exists()


def test_the_local_key_file_is_readable_by_its_owner_only(tmp_path):
    result = start_settings({"SLIPWAY_VAR_DIR": str(tmp_path)})
    again = start_settings({"SLIPWAY_VAR_DIR": str(tmp_path)})

    assert result.returncode == 0 and again.returncode == 0, result.stderr + again.stderr
    key = tmp_path / "secret-key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) >= 50


def test_slipway_https_secures_cookies_hsts_and_redirects(tmp_path, transactional_db):
    with run_server(tmp_path / "artifacts", env={"SLIPWAY_HTTPS": "true"}) as server:
        plain = requests.get(f"{server.url}/accounts/login/", allow_redirects=False, timeout=10)
        behind_tls = requests.get(
            f"{server.url}/accounts/login/",
            headers={"X-Forwarded-Proto": "https"},
            allow_redirects=False,
            timeout=10,
        )
        health = requests.get(f"{server.url}/healthz", allow_redirects=False, timeout=10)

    assert plain.status_code == 301
    assert plain.headers["Location"].startswith("https://")
    assert behind_tls.status_code == 200
    assert "max-age=31536000" in behind_tls.headers["Strict-Transport-Security"]
    assert "; secure" in behind_tls.headers["Set-Cookie"].lower()
    assert health.status_code == 200  # load balancers ask over plain http


def test_check_deploy_warns_when_slipway_base_url_is_unset():
    """Unset, the links asking the signers would point at 127.0.0.1: check --deploy says so."""
    env = readme_production_env()
    del env["SLIPWAY_BASE_URL"]
    result = check_deploy(env)

    assert result.returncode != 0
    assert "slipway.W001" in result.stderr + result.stdout
    assert "SLIPWAY_BASE_URL 'http://127.0.0.1:8000' points at this machine" in result.stderr


@pytest.mark.parametrize(
    "url, problem",
    [
        ("http://localhost:8000", "points at this machine"),
        ("https://app.localhost", "points at this machine"),
        ("slipway.example.com", "is not an absolute http(s) URL"),
        ("ftp://slipway.example.com", "is not an absolute http(s) URL"),
        ("https://slipway.example.com", None),
        ("http://10.0.0.5:8000/slipway", None),
    ],
)
def test_the_base_url_check_names_what_is_wrong(settings, url, problem):
    settings.SLIPWAY_BASE_URL = url
    # Slipway's checks only: the model checks ask SQLite about JSON support, a database
    # access this test has no need of (run alone on SQLite it was refused).
    checks = run_checks(include_deployment_checks=True, tags=["slipway"])
    messages = [m for m in checks if m.id == "slipway.W001"]

    if problem is None:
        assert messages == []
    else:
        (message,) = messages
        assert f"SLIPWAY_BASE_URL {url!r} {problem}" in message.msg
        assert "https://slipway.example.com" in message.hint
