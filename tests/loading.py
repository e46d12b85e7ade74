"""What the pipeline.toml loading tests share: a good file, ways to spoil it, a snapshot of
everything a load may write."""

from pathlib import Path

import pytest

from pipelines.config import load_pipeline_file
from pipelines.models import (
    AuditEvent,
    Build,
    ChecklistItem,
    Environment,
    Pipeline,
    Release,
    ReleaseCause,
)

# Line numbers in the bad-file tests count from here: "[pipeline]" is line 1.
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
