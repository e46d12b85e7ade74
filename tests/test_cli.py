"""The `slipway` CLI against a live server, with reports from a real test run."""

import hashlib
import io
import os
import socket
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from pipelines.artifacts import artifact_path
from pipelines.cli.client import FileBody
from pipelines.models import Build, Release

SHA = "5d41402abc4b2a76b9719d911017c592ae3a1b2c"

CODE = """
def add(a, b):
    return a + b


def divide(a, b):
    if b == 0:
        raise ZeroDivisionError("b is 0")
    return a / b
"""
TESTS = """
import pytest
from calc import add, divide


def test_add():
    assert add(2, 2) == 4


def test_divide():
    assert divide(6, 3) == 2


@pytest.mark.skip(reason="later")
def test_divide_by_zero():
    divide(1, 0)
"""


def slipway(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


@pytest.fixture
def reports(tmp_path) -> tuple[Path, Path]:
    """Run a tiny test suite (2 pass, 1 skipped) with coverage: junit.xml, coverage.xml."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "calc.py").write_text(textwrap.dedent(CODE))
    (project / "test_calc.py").write_text(textwrap.dedent(TESTS))
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    pytest_args = ["-m", "pytest", "-q", "-p", "no:django", "-p", "no:cacheprovider"]
    run = [sys.executable, "-m", "coverage", "run", "--include=calc.py", *pytest_args]
    subprocess.run([*run, "--junitxml=junit.xml"], cwd=project, env=env, check=True)
    subprocess.run([sys.executable, "-m", "coverage", "xml"], cwd=project, env=env, check=True)
    return project / "junit.xml", project / "coverage.xml"


@pytest.fixture
def artifact(tmp_path) -> Path:
    path = tmp_path / "build.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("app/VERSION")
        info.size = len(SHA)
        tar.addfile(info, io.BytesIO(SHA.encode()))
    return path


@pytest.fixture
def cli_env(slipway_server, token_for) -> dict[str, str]:
    return {"SLIPWAY_URL": slipway_server.url, "SLIPWAY_TOKEN": token_for("developer")}


def test_push_reports_build_reports_and_artifact(pipeline, cli_env, reports, artifact):
    junit, coverage = reports
    result = slipway(
        "push", "--pipeline", "webshop", "--sha", SHA, "--branch", "master",
        "--status", "passed", "--message", "Add divide", "--author", "Ada",
        "--url", "https://ci.example.com/1", "--junit", str(junit),
        "--coverage", str(coverage), "--artifact", str(artifact),
        env=cli_env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2 passed, 0 failed, 1 skipped" in result.stdout
    build = Build.objects.get(sha=SHA)
    assert (build.status, build.author, build.url) == ("passed", "Ada", "https://ci.example.com/1")
    assert (build.tests_passed, build.tests_failed, build.tests_skipped) == (2, 0, 1)
    assert 50 < build.coverage < 100  # divide's error branch never ran
    assert build.artifact.size == artifact.stat().st_size
    assert Release.objects.get().environment.name == "uat"  # auto-deployed


def test_status_prints_the_environments_as_a_table(pipeline, cli_env, artifact):
    slipway("push", "--pipeline", "webshop", "--sha", SHA, "--branch", "master",
            "--status", "passed", "--artifact", str(artifact), env=cli_env)  # fmt: skip
    result = slipway("status", "--pipeline", "webshop", env=cli_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["ENVIRONMENT", "RELEASE", "SHA"]
    uat = next(line for line in lines if line.startswith("uat"))
    assert uat.split()[:4] == ["uat", "v1", SHA[:7], "passed"]
    assert lines[0].index("SHA") == uat.index(SHA[:7])  # aligned


def test_status_of_all_pipelines(pipeline, cli_env):
    result = slipway("status", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == ["dev", "uat", "live"]


def test_it_prints_the_servers_message_when_refused(pipeline, cli_env):
    result = slipway("push", "--pipeline", "webshop", "--sha", "xyz", "--status", "passed",
                     env=cli_env)  # fmt: skip
    assert result.returncode == 1
    assert "not a commit sha" in result.stderr and "422" in result.stderr


def test_it_says_when_the_token_is_bad(pipeline, cli_env):
    result = slipway("status", env={**cli_env, "SLIPWAY_TOKEN": "slw_wrong"})
    assert result.returncode == 1
    assert "not valid" in result.stderr


def test_it_says_when_the_server_cannot_be_reached(cli_env):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    result = slipway("status", env={**cli_env, "SLIPWAY_URL": f"http://127.0.0.1:{port}"})
    assert result.returncode == 3
    assert "Cannot reach Slipway" in result.stderr


def test_it_asks_for_a_server_and_a_token():
    result = slipway("status", env={"SLIPWAY_URL": "", "SLIPWAY_TOKEN": ""})
    assert result.returncode == 2
    assert "SLIPWAY_URL" in result.stderr


def test_it_refuses_a_report_file_that_does_not_exist(pipeline, cli_env, tmp_path):
    result = slipway("push", "--pipeline", "webshop", "--sha", SHA, "--status", "passed",
                     "--junit", str(tmp_path / "missing.xml"), env=cli_env)  # fmt: skip
    assert result.returncode == 2
    assert not Build.objects.exists()


@pytest.mark.parametrize("command", [[], ["push"], ["status"]])
def test_every_command_has_help(command):
    result = slipway(*command, "--help")
    assert result.returncode == 0
    assert "usage: slipway" in result.stdout


def test_push_sends_a_large_artifact_byte_for_byte(pipeline, cli_env, tmp_path):
    path = tmp_path / "big.tar.gz"
    path.write_bytes(os.urandom(2 * FileBody.PIECE_BYTES + 12345))  # three pieces, uneven
    result = slipway("push", "--pipeline", "webshop", "--sha", SHA, "--status", "passed",
                     "--artifact", str(path), env=cli_env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    digest = Build.objects.get(sha=SHA).artifact.digest
    assert digest == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert artifact_path(digest).read_bytes() == path.read_bytes()


def test_push_sends_an_empty_artifact(pipeline, cli_env, tmp_path):
    path = tmp_path / "empty.tar.gz"
    path.touch()
    result = slipway("push", "--pipeline", "webshop", "--sha", SHA, "--status", "passed",
                     "--artifact", str(path), env=cli_env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert Build.objects.get(sha=SHA).artifact.size == 0
