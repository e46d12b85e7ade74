"""`manage.py load_pipeline FILE…`: checks every file, then loads, and says what it did."""

import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from pipelines.models import Environment, Pipeline
from tests.loading import GOOD_TOML, changed, release_on, snapshot, without_environment, write


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
