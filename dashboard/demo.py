"""Demo data for `make run`: one user per role, and the webshop pipeline deploying the
sample app (examples/sampleapp) for real.

Builds go through the same use-cases the REST API calls (record_build, store_artifact,
attach_artifact), so their auto-deploys run the local driver: dev, uat and live serve on
127.0.0.1:8101–8103. Live gets the older master build, so uat is one build ahead, ready to
promote. Running it again keeps the data and restarts the apps that are not running.
"""

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import requests
from django.conf import settings
from django.contrib.auth.models import Group, User

from dashboard.demo_router import demo_config
from pipelines.artifacts import store_artifact
from pipelines.builds import attach_artifact, record_build
from pipelines.config import PipelineConfig
from pipelines.config.apply import load_config
from pipelines.deploys import request_deployment
from pipelines.drivers.blue_green import slots_of
from pipelines.drivers.local import CURRENT, target_path
from pipelines.flag_keys import create_flag_key
from pipelines.models import Build, Environment, FlagKey, Pipeline, ReleaseCause
from pipelines.roles import Role
from pipelines.tokens import hash_token

DEMO_PASSWORD = "slipway-demo"
DEMO_PIPELINE = Path(settings.BASE_DIR) / "examples" / "webshop.toml"
SAMPLE_APP = Path(settings.BASE_DIR) / "examples" / "sampleapp"
SAMPLE_APP_FILES = ("app.py", "control.py", "db.py")
# Where the sample app finds Slipway's address and a flag key (its --flags option).
FLAGS_FILE = "flags.json"


def _sha(label: str) -> str:
    return hashlib.sha1(label.encode()).hexdigest()


# (sha, branch, message, author, tests (passed, failed, skipped), coverage), oldest first.
OLDER, NEWER, DEV = _sha("sampleapp 1"), _sha("sampleapp 2"), _sha("sampleapp dev")
DEMO_BUILDS = [
    (OLDER, "master", "Checkout: show delivery dates", "Ada Lovelace", (412, 0, 3), "87.40"),
    (NEWER, "master", "Cart: keep items across logins", "Grace Hopper", (418, 0, 3), "88.10"),
    (DEV, "dev", "WIP: gift cards", "Linus Torvalds", (420, 0, 3), "86.95"),
]


def ensure_demo_users() -> list[tuple[str, str]]:
    """One user per role, named after it; existing users keep their password."""
    made = []
    for role in Role:
        user, created = User.objects.get_or_create(
            username=role.value, defaults={"email": f"{role.value}@example.com"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.groups.add(Group.objects.get_or_create(name=role.value)[0])
        made.append((role.value, role.label))
    return made


def sampleapp_artifact(sha: str, message: str, replace: dict[str, bytes] | None = None) -> bytes:
    """The sample app as CI would package it: its files plus REVISION (commit, message).

    Same inputs, same bytes (no timestamps), so the store keeps each version once.
    `replace` swaps files (tests use it to ship a broken version).
    """
    files = {name: (SAMPLE_APP / name).read_bytes() for name in SAMPLE_APP_FILES}
    files["REVISION"] = f"{sha}\n{message}\n".encode()
    files.update(replace or {})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def ensure_demo_pipeline(
    slipway_url: str = "http://127.0.0.1:8000", config: PipelineConfig | None = None
) -> Pipeline:
    """The webshop pipeline (`config`: as demo_router.demo_config made it) with its builds."""
    pipeline = load_config(config or demo_config(DEMO_PIPELINE, nginx=False))
    for env in pipeline.environments.filter(driver="local", flags__isnull=False).distinct():
        ensure_flags_file(env, slipway_url)
    for sha, branch, message, author, (passed, failed, skipped), coverage in DEMO_BUILDS:
        if pipeline.builds.filter(sha=sha, artifact__isnull=False).exists():
            continue  # running `make run` again keeps what is there
        build, _ = record_build(
            pipeline,
            sha=sha,
            branch=branch,
            message=message,
            author=author,
            url=f"https://ci.example.com/webshop/{sha[:7]}",
            status="passed" if failed == 0 else "failed",
            tests={"passed": passed, "failed": failed, "skipped": skipped},
            coverage=coverage,
        )
        # Attaching the artifact to a passing build auto-deploys it (dev, uat).
        attach_artifact(build, store_artifact([sampleapp_artifact(sha, message)]))
    _seed_live(pipeline)
    for env in pipeline.environments.select_related("current_release__build"):
        ensure_serving(env)
    return pipeline


def ensure_flags_file(env: Environment, slipway_url: str) -> Path:
    """The sample app's flags.json: Slipway's address and a working key of `env`, made once
    (a file whose key still works and whose address is right is kept)."""
    path = target_path(env.driver_settings["path"]) / FLAGS_FILE
    try:
        current = json.loads(path.read_text())
        key_hash = hash_token(current["key"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        current, key_hash = {}, ""
    valid = FlagKey.objects.filter(environment=env, key_hash=key_hash, revoked_at=None).exists()
    if valid and current.get("url") == slipway_url:
        return path
    raw = current["key"] if valid else create_flag_key(env, name="demo sample app")[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # a secret
    with os.fdopen(descriptor, "w") as file:
        json.dump({"url": slipway_url, "key": raw}, file)
    return path


def _seed_live(pipeline: Pipeline) -> None:
    """Live runs the older master build, so uat is one build ahead, ready to promote."""
    live = pipeline.environments.select_related("current_release__build").get(name="live")
    if live.current_release and live.current_release.build.sha in {OLDER, NEWER}:
        return
    if live.deployments.filter(status__in=("queued", "running")).exists():
        return
    older = Build.objects.get(pipeline=pipeline, sha=OLDER)
    request_deployment(live, older, cause=ReleaseCause.PROMOTION, description="promotion from uat")


def ensure_serving(env: Environment) -> str:
    """Restart a local environment's app if it does not answer with its current commit."""
    cfg = env.driver_settings
    release = env.current_release
    if slots_of(env):
        return _ensure_slots_serving(env)
    if env.driver != "local" or release is None or not cfg.get("health_url"):
        return ""
    sha = release.build.sha
    if _reports(cfg["health_url"], sha):
        return f"{env.name} serves {sha[:7]} at {cfg['health_url']}"
    target = target_path(cfg["path"])
    if not (target / CURRENT).exists() or not cfg.get("restart_command"):
        return f"{env.name}: nothing to restart in {target}"
    subprocess.run(cfg["restart_command"], shell=True, cwd=target, check=False)
    state = "serves" if _reports(cfg["health_url"], sha) else "does NOT serve"
    return f"{env.name} {state} {sha[:7]} at {cfg['health_url']} (restarted)"


def _ensure_slots_serving(env: Environment) -> str:
    """Blue-green: restart each slot that holds a release but does not answer with it."""
    cfg = env.driver_settings
    restarted = []
    for slot in slots_of(env):
        url = cfg["health_url"].replace("{port}", str(slot.port))
        if slot.sha is None or _reports(url, slot.sha):
            continue
        command = cfg["restart_command"].replace("{port}", str(slot.port))
        directory = target_path(cfg["path"]) / slot.name
        if (directory / CURRENT).exists():
            subprocess.run(command, shell=True, cwd=directory, check=False)
            restarted.append(slot.name)
    return f"{env.name}: restarted {', '.join(restarted)}" if restarted else ""


def serving_report(pipeline: Pipeline) -> list[str]:
    lines = []
    for env in pipeline.environments.select_related("current_release__build"):
        cfg, release = env.driver_settings, env.current_release
        if release and slots_of(env):
            url = cfg["router_health_url"]
            ok = _reports(url, release.build.sha)
            state = "serves" if ok else "does NOT answer with"
            live = next((slot.name for slot in slots_of(env) if slot.live), "no slot")
            lines.append(
                f"{env.name:<5} {state} {release.build.short_sha} at {url} (nginx → {live})"
            )
            continue
        if env.driver == "local" and release and cfg.get("health_url"):
            ok = _reports(cfg["health_url"], release.build.sha)
            state = "serves" if ok else "does NOT answer with"
            lines.append(f"{env.name:<5} {state} {release.build.short_sha} at {cfg['health_url']}")
    return lines


def _reports(url: str, sha: str) -> bool:
    try:
        with requests.Session() as session:
            session.trust_env = False
            return sha in session.get(url, timeout=2).text
    except requests.RequestException:
        return False
