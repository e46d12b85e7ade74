"""`slipway logs DEPLOYMENT [--follow]` prints the log and follows it to the end."""

import os
import subprocess
import sys

from tests.watching import finish, running_deployment, write_lines


def slipway(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def test_it_prints_the_log_so_far(pipeline, slipway_server, token_for):
    deployment = running_deployment(pipeline)
    write_lines(deployment, ["one", "two"])
    env = {"SLIPWAY_URL": slipway_server.url, "SLIPWAY_TOKEN": token_for("developer")}
    out, err = slipway("logs", str(deployment.pk), env=env).communicate(timeout=60)
    assert out == "one\ntwo\n"


def test_it_follows_the_log_to_the_end_without_repeating_a_line(
    pipeline, slipway_server, token_for
):
    deployment = running_deployment(pipeline)
    write_lines(deployment, ["one", "two"])
    env = {"SLIPWAY_URL": slipway_server.url, "SLIPWAY_TOKEN": token_for("developer")}
    follower = slipway("logs", f"#{deployment.pk}", "--follow", env=env)
    assert follower.stdout.readline() == "one\n"  # it is following now
    write_lines(deployment, ["three", "four"])
    finish(deployment, "failed")
    assert "one\n" + follower.stdout.read() == "one\ntwo\nthree\nfour\n"
    assert follower.wait(timeout=60) == 0
    assert f"deployment #{deployment.pk} failed" in follower.stderr.read()


def test_it_refuses_what_is_not_a_deployment_number():
    for text in ("latest", "²", "9" * 5000):  # "²" is a digit to str.isdigit(), not to int()
        out, err = slipway("logs", text, env={}).communicate(timeout=60)
        assert "is not a deployment number like 42" in err, err[-500:]
